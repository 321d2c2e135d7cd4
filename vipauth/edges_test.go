package vipauth_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/defaultclient"
	"github.com/shoptoken/shoptoken/internal/testkit"
	"github.com/shoptoken/shoptoken/shoptokentest"
	"github.com/shoptoken/shoptoken/vipauth"
)

// TestNewClient_nilBaseHasTimeouts: a nil base is the SDK's default client, never one without a
// timeout.
func TestNewClient_nilBaseHasTimeouts(t *testing.T) {
	src, err := vipauth.NewSource(vipauth.Config{ClientID: "id"}, "OPEN1")
	require.NoError(t, err)
	defer src.Close()
	hc := mustClient(t, vipauth.Config{ClientID: "id"}, src).HTTPClient()
	assert.Equal(t, defaultclient.Timeout, hc.Timeout)
	base, ok := hc.Transport.(*shoptoken.Transport).Base.(*http.Transport)
	require.True(t, ok)
	assert.Equal(t, defaultclient.HeaderTimeout, base.ResponseHeaderTimeout)
}

// TestConfig_redirectNotFollowed: /oauth2/token, /oauth2/token_info and /oauth2/revoke_token
// answered with a redirect to another host: the other host receives nothing (neither the secret,
// the code or the token again, nor a GET whose answer would be taken for vip.com's), the answer is
// a typed error naming the status, and no error text shows a secret.
func TestConfig_redirectNotFollowed(t *testing.T) {
	ctx := context.Background()
	calls := map[string]func(vipauth.Config) error{
		"token": func(c vipauth.Config) error {
			_, err := c.Exchange(ctx, testCode, "203.0.113.7")
			return err
		},
		"token_info": func(c vipauth.Config) error {
			_, err := c.TokenInfo(ctx, testToken)
			return err
		},
		"revoke_token": func(c vipauth.Config) error { return c.Revoke(ctx, testToken) },
	}
	for name, call := range calls {
		for _, status := range testkit.RedirectStatuses() {
			r := testkit.NewRedirect(t, status, "client_secret="+testSecret+"&code="+testCode+"&access_token="+testToken,
				`{"access_token":"`+testToken+`","expires_in":2592000,"open_id":"u1","code":0,"msg":"success"}`)
			err := call(vipauth.Config{ClientID: "id", ClientSecret: testSecret, RedirectURL: callbackURL, BaseURL: r.From.URL + "/oauth2"})
			require.ErrorIs(t, err, shoptoken.ErrBadResponse, "%s %d", name, status)
			var e *shoptoken.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, status, e.StatusCode)
			assert.Contains(t, e.Message, "redirect to another host")
			assert.Zero(t, r.Hits(), "%s %d: the other host got %s", name, status, r.Seen())
			testkit.NoSecret(t, name+" error", testSecrets, testkit.ErrorTexts(err)...)
		}
	}
}

// TestConfig_hostileMessage: a platform message with line breaks, terminal escapes and 600 KB of
// text makes a one-line, bounded error, from the token endpoint and from a callback alike; the
// whole text stays on RawMessage.
func TestConfig_hostileMessage(t *testing.T) {
	body, err := json.Marshal(map[string]any{"code": 30001, "msg": testkit.HostileMessage(), "request_id": "r1\n\x1b[2Jforged"})
	require.NoError(t, err)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(body) }))
	defer srv.Close()
	cfg := vipauth.Config{ClientID: "id", ClientSecret: testSecret, RedirectURL: callbackURL, BaseURL: srv.URL}
	_, err = cfg.Exchange(context.Background(), testCode, "203.0.113.7")
	_, cbErr := vipauth.ParseCallback(url.Values{"state": {"s"}, "error": {"access_denied\n\x1b[2J"},
		"error_description": {testkit.HostileMessage()}}, "s")
	for _, err := range []error{err, cbErr} {
		var e *shoptoken.Error
		require.ErrorAs(t, err, &e)
		testkit.PrintableLine(t, "Error()", err.Error(), 1024)
		assert.Equal(t, testkit.HostileMessage(), e.RawMessage)
	}
}

// TestPrinted_noSecret: everything of this package that holds a secret prints and logs it
// shortened, in every fmt verb and both slog handlers.
func TestPrinted_noSecret(t *testing.T) {
	cfg := vipauth.Config{ClientID: "id", ClientSecret: testSecret, RedirectURL: callbackURL + "?code=" + testCode,
		BaseURL: vipauth.DefaultBaseURL}
	tok := &shoptoken.Token{AccessToken: testToken, Expiry: time.Now().Add(time.Hour)}
	src, err := vipauth.NewSource(cfg, "u1", shoptoken.WithToken(tok))
	require.NoError(t, err)
	defer src.Close()
	cl := mustClient(t, cfg, src)
	app, err := vipauth.NewApp(cfg)
	require.NoError(t, err)
	defer app.Close()
	require.NoError(t, app.Set(context.Background(), "u1", tok))
	info := vipauth.TokenInfo{AccessToken: testToken, OpenID: "u1"}
	for name, v := range map[string]any{
		"Config": cfg, "*Config": &cfg, "source": src, "NewClient": cl, "its HTTPClient": cl.HTTPClient(),
		"its Transport": cl.HTTPClient().Transport, "App": app, "App.Client": app.Client("u1"),
		"token": tok, "TokenInfo": info, "*TokenInfo": &info,
	} {
		testkit.NoSecret(t, name, testSecrets, testkit.Printed(v)...)
	}
}

// TestLogs_noSecret: a Config logging at Debug through both slog handlers, taken through an
// exchange, token_info and revoke against the emulator, logs no piece of the secret, the code or
// the token.
func TestLogs_noSecret(t *testing.T) {
	emu := shoptokentest.NewVipAuth(shoptokentest.WithCredentials("id", testSecret))
	defer emu.Close()
	logger, logs := testkit.BothLogger()
	cfg := vipauth.Config{ClientID: "id", ClientSecret: testSecret, RedirectURL: callbackURL, BaseURL: emu.OAuthURL,
		HTTPClient: emu.Client(), Logger: logger}
	ctx := context.Background()
	code := emu.NewCode("u1", callbackURL)
	tok, err := cfg.Exchange(ctx, code, "203.0.113.7")
	require.NoError(t, err)
	_, err = cfg.TokenInfo(ctx, tok.AccessToken)
	require.NoError(t, err)
	require.NoError(t, cfg.Revoke(ctx, tok.AccessToken))
	require.Contains(t, logs.String(), "vipauth: exchanged code")
	testkit.NoSecret(t, "log", []string{testSecret, code, tok.AccessToken}, logs.String())
}

// TestConfig_blankInput: a client id, secret, redirect URL, code, client IP or access token of
// white space only is refused with a typed error before anything is sent.
func TestConfig_blankInput(t *testing.T) {
	srv := testkit.NewCounter(t, `{"access_token":"`+testToken+`","expires_in":2592000,"open_id":"u1"}`)
	ctx := context.Background()
	good := vipauth.Config{ClientID: "id", ClientSecret: testSecret, RedirectURL: callbackURL, BaseURL: srv.URL}
	for _, blank := range testkit.Blanks() {
		tests := []struct {
			what string
			kind error
			call func() error
		}{
			{"Config.ClientID", shoptoken.ErrCredentials, func() error {
				c := good
				c.ClientID = blank
				_, err := c.Exchange(ctx, testCode, "203.0.113.7")
				return err
			}},
			{"Config.ClientSecret", shoptoken.ErrCredentials, func() error {
				c := good
				c.ClientSecret = blank
				_, err := c.Exchange(ctx, testCode, "203.0.113.7")
				return err
			}},
			{"Config.RedirectURL", shoptoken.ErrBadRequest, func() error {
				c := good
				c.RedirectURL = blank
				_, err := c.Exchange(ctx, testCode, "203.0.113.7")
				return err
			}},
			{"code", shoptoken.ErrBadRequest, func() error { _, err := good.Exchange(ctx, blank, "203.0.113.7"); return err }},
			{"clientIP", shoptoken.ErrBadRequest, func() error { _, err := good.Exchange(ctx, testCode, blank); return err }},
			{"accessToken", shoptoken.ErrBadRequest, func() error { _, err := good.TokenInfo(ctx, blank); return err }},
			{"accessToken", shoptoken.ErrBadRequest, func() error { return good.Revoke(ctx, blank) }},
			{"Config.ClientID", shoptoken.ErrCredentials, func() error {
				_, err := vipauth.NewSource(vipauth.Config{ClientID: blank}, "OPEN1")
				return err
			}},
			{"Config.ClientID", shoptoken.ErrCredentials, func() error {
				_, err := vipauth.NewApp(vipauth.Config{ClientID: blank})
				return err
			}},
			{"Config.ClientID", shoptoken.ErrCredentials, func() error {
				_, err := vipauth.NewClient(vipauth.Config{ClientID: blank}, shoptoken.StaticSource(nil))
				return err
			}},
			{"openID", shoptoken.ErrBadRequest, func() error {
				_, err := vipauth.NewSource(vipauth.Config{ClientID: "id"}, blank)
				return err
			}},
		}
		for _, tt := range tests {
			err := tt.call()
			require.ErrorIs(t, err, tt.kind, "%s %q", tt.what, blank)
			assert.Contains(t, err.Error(), tt.what+" is required")
		}
	}
	assert.Zero(t, srv.Hits(), "nothing is sent")
}

// TestConfig_BaseURL: one rule (httpx.CheckBaseURL): no user information, query or fragment, and
// plain http only to a loopback host or with AllowHTTP, since vip.com serves HTTPS.
func TestConfig_BaseURL(t *testing.T) {
	ctx := context.Background()
	for _, base := range []string{
		"https://user:" + testSecret + "@auth.vip.com/oauth2", "https://auth.vip.com/oauth2?x=1", "https://auth.vip.com/oauth2#f",
		"http://auth.vip.com/oauth2", "auth.vip.com/oauth2",
	} {
		cfg := vipauth.Config{ClientID: "id", ClientSecret: testSecret, RedirectURL: callbackURL, BaseURL: base}
		_, err := cfg.Exchange(ctx, testCode, "203.0.113.7")
		require.ErrorIs(t, err, shoptoken.ErrBadRequest, base)
		assert.Contains(t, err.Error(), "Config.BaseURL")
		_, err = cfg.TokenInfo(ctx, testToken)
		require.ErrorIs(t, err, shoptoken.ErrBadRequest, base)
		require.ErrorIs(t, cfg.Revoke(ctx, testToken), shoptoken.ErrBadRequest, base)
		testkit.NoSecret(t, "error", testSecrets, err.Error())
	}
	srv := testkit.NewCounter(t, `{"code":0,"msg":"success"}`)
	for _, cfg := range []vipauth.Config{{BaseURL: srv.URL}, {BaseURL: strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)}} {
		cfg.ClientID, cfg.ClientSecret = "id", testSecret
		require.NoError(t, cfg.Revoke(ctx, testToken), cfg.BaseURL)
	}
	// AllowHTTP lets a non-loopback http BaseURL through the check (the request then fails to connect).
	cfg := vipauth.Config{ClientID: "id", ClientSecret: testSecret, BaseURL: "http://192.0.2.1:1/oauth2", AllowHTTP: true}
	ctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	err := cfg.Revoke(ctx, testToken)
	require.ErrorIs(t, err, shoptoken.ErrUnavailable)
}

// TestConfig_AuthCodeURL_refuses: no URL is built from a BaseURL with a query (it made
// ".../oauth2?x=1/authorize?..."), and none sends the code to a redirect_uri that is not OOB or an
// absolute http(s) URL, whether it comes from RedirectURL or SetAuthURLParam.
func TestConfig_AuthCodeURL_refuses(t *testing.T) {
	good := vipauth.Config{ClientID: "id", RedirectURL: callbackURL}
	tests := []struct {
		name string
		set  func(*vipauth.Config)
		opts []vipauth.AuthCodeOption
		kind error
		want string
	}{
		{"BaseURL with a query", func(c *vipauth.Config) { c.BaseURL = "https://auth.vip.com/oauth2?x=1" }, nil, shoptoken.ErrBadRequest, "Config.BaseURL"},
		{"http BaseURL", func(c *vipauth.Config) { c.BaseURL = "http://auth.vip.com/oauth2" }, nil, shoptoken.ErrBadRequest, "Config.BaseURL"},
		{"javascript: redirect", func(c *vipauth.Config) { c.RedirectURL = "javascript:alert(document.cookie)" }, nil, shoptoken.ErrBadRequest, "redirect_uri"},
		{"data: redirect", func(c *vipauth.Config) { c.RedirectURL = "data:text/html,<script>x</script>" }, nil, shoptoken.ErrBadRequest, "redirect_uri"},
		{"relative redirect", func(c *vipauth.Config) { c.RedirectURL = "/vip/callback" }, nil, shoptoken.ErrBadRequest, "redirect_uri"},
		{"redirect with user information", func(c *vipauth.Config) { c.RedirectURL = "https://u:p@isv.example.com/cb" }, nil, shoptoken.ErrBadRequest, "redirect_uri"},
		{"redirect with a fragment", func(c *vipauth.Config) { c.RedirectURL = "https://isv.example.com/cb#x" }, nil, shoptoken.ErrBadRequest, "redirect_uri"},
		{"no redirect", func(c *vipauth.Config) { c.RedirectURL = "" }, nil, shoptoken.ErrBadRequest, "Config.RedirectURL is required"},
		{"javascript: through SetAuthURLParam", nil, []vipauth.AuthCodeOption{vipauth.SetAuthURLParam("redirect_uri", "javascript:alert(1)")}, shoptoken.ErrBadRequest, "redirect_uri"},
		{"blank client id", func(c *vipauth.Config) { c.ClientID = "\u3000" }, nil, shoptoken.ErrCredentials, "Config.ClientID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			if tt.set != nil {
				tt.set(&c)
			}
			u, err := c.AuthCodeURL("state", tt.opts...)
			require.ErrorIs(t, err, tt.kind)
			assert.Contains(t, err.Error(), tt.want)
			assert.Empty(t, u)
		})
	}
	for _, redirect := range []string{vipauth.OOB, "http://127.0.0.1:8080/cb", "https://isv.example.com/cb?shop=1"} {
		c := good
		c.RedirectURL = redirect
		u, err := c.AuthCodeURL("state")
		require.NoError(t, err, redirect)
		assert.Contains(t, u, "redirect_uri="+url.QueryEscape(redirect))
	}
}

// TestConfig_String_encoding: a Config shows Encoding, in fmt and slog alike, only when it is not
// the default, as it leaves out every field at its zero value.
func TestConfig_String_encoding(t *testing.T) {
	cfg := vipauth.Config{ClientID: "id", ClientSecret: testSecret}
	assert.Equal(t, "vipauth.Config{ClientID: id, ClientSecret: Qz7S…(41)}", cfg.String())
	cfg.Encoding = vipauth.FormBody
	assert.Equal(t, "vipauth.Config{ClientID: id, ClientSecret: Qz7S…(41), Encoding: form_body}", cfg.String())
	logger, logs := testkit.Logger()
	logger.Info("config", "config", cfg)
	assert.Contains(t, logs.String(), `"encoding":"form_body"`)
	testkit.NoSecret(t, "Config", []string{testSecret}, testkit.Printed(cfg)...)
}
