package youzan_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/testkit"
	"github.com/shoptoken/shoptoken/shoptokentest"
	"github.com/shoptoken/shoptoken/youzan"
)

func TestConfig_AuthCodeURL(t *testing.T) {
	tests := []struct {
		name     string
		cfg      youzan.Config
		state    string
		redirect string
		opts     []youzan.AuthCodeOption
		want     string
	}{
		{
			name:  "default page, registered callback",
			cfg:   youzan.Config{ClientID: "testclient"},
			state: "teststate",
			want:  "https://diy.youzanyun.com/oauth/authorize?client_id=testclient&response_type=code&state=teststate",
		},
		{
			name:     "callback named, emulator page",
			cfg:      youzan.Config{ClientID: "id", AuthorizeURL: "http://127.0.0.1:8080/oauth/authorize"},
			state:    "s1",
			redirect: "https://isv.example.com/reauth/callback",
			want:     "http://127.0.0.1:8080/oauth/authorize?client_id=id&response_type=code&state=s1&redirect_uri=https%3A%2F%2Fisv.example.com%2Freauth%2Fcallback",
		},
		{
			name: "no state; scope and an override",
			cfg:  youzan.Config{ClientID: "id"},
			opts: []youzan.AuthCodeOption{youzan.SetAuthURLParam("scope", "trade item"), youzan.SetAuthURLParam("response_type", "code"), nil},
			want: "https://diy.youzanyun.com/oauth/authorize?client_id=id&response_type=code&scope=trade+item",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.cfg.AuthCodeURL(tt.state, tt.redirect, tt.opts...)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestConfig_AuthCodeURL_refusals(t *testing.T) {
	tests := []struct {
		name     string
		cfg      youzan.Config
		redirect string
		opts     []youzan.AuthCodeOption
		want     string // part of the message
	}{
		{"no client id", youzan.Config{}, "", nil, "Config.ClientID is required"},
		{"blank client id", youzan.Config{ClientID: " \t"}, "", nil, "Config.ClientID is required"},
		{"plain http page elsewhere", youzan.Config{ClientID: "id", AuthorizeURL: "http://yz.example.com/oauth/authorize"}, "", nil, "Config.AuthorizeURL uses plain http"},
		{"page with a query", youzan.Config{ClientID: "id", AuthorizeURL: "https://yz.example.com/a?client_secret=x"}, "", nil, "Config.AuthorizeURL must not carry a query"},
		{"javascript callback", youzan.Config{ClientID: "id"}, "javascript:alert(1)", nil, "redirect_uri"},
		{"relative callback", youzan.Config{ClientID: "id"}, "/cb", nil, "redirect_uri"},
		{"callback with a fragment", youzan.Config{ClientID: "id"}, "https://a.example/cb#x", nil, "redirect_uri"},
		{"callback set by option", youzan.Config{ClientID: "id"}, "", []youzan.AuthCodeOption{youzan.SetAuthURLParam("redirect_uri", "data:text/html,x")}, "redirect_uri"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.cfg.AuthCodeURL("st", tt.redirect, tt.opts...)
			require.ErrorIs(t, err, shoptoken.ErrBadRequest)
			assert.Empty(t, got)
			var e *shoptoken.Error
			require.True(t, errors.As(err, &e))
			assert.Equal(t, "youzan", e.Platform)
			assert.Equal(t, "authorize", e.Op)
			assert.Contains(t, e.Message, tt.want)
			testkit.NoSecret(t, "error", []string{"client_secret=x"}, testkit.ErrorTexts(err)...)
		})
	}
}

// TestConfig_AuthCodeURL_emulator goes through the emulator's authorization page with the URL
// AuthCodeURL built, and exchanges the code the redirect brought back.
func TestConfig_AuthCodeURL_emulator(t *testing.T) {
	const callback = "https://isv.example.com/reauth/callback"
	yz := shoptokentest.NewYouzan(shoptokentest.WithRedirectURIs(callback))
	defer yz.Close()
	cfg := youzan.Config{ClientID: "id", ClientSecret: "secret", BaseURL: yz.URL, AuthorizeURL: yz.AuthorizeURL}
	authURL, err := cfg.AuthCodeURL("st-1", callback)
	require.NoError(t, err)

	c := *yz.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Get(authURL)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, "st-1", loc.Query().Get("state"))

	tok, err := cfg.ExchangeCode(context.Background(), loc.Query().Get("code"), callback)
	require.NoError(t, err)
	assert.Equal(t, shoptokentest.YouzanGrantID, tok.Subject)
	assert.NotEmpty(t, tok.RefreshToken)
}
