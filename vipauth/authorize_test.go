package vipauth_test

import (
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/vipauth"
)

func TestConfig_AuthCodeURL(t *testing.T) {
	tests := []struct {
		name  string
		cfg   vipauth.Config
		state string
		opts  []vipauth.AuthCodeOption
		want  string
	}{
		{
			name:  "server-side flow, default base",
			cfg:   vipauth.Config{ClientID: "0123456789", RedirectURL: "http://myi.vip.com/index.html"},
			state: "s1",
			want:  "https://auth.vip.com/oauth2/authorize?client_id=0123456789&response_type=code&redirect_uri=http%3A%2F%2Fmyi.vip.com%2Findex.html&state=s1",
		},
		{
			name:  "native flow, mobile pages",
			cfg:   vipauth.Config{ClientID: "YOUR_CLIENT_ID", RedirectURL: vipauth.OOB},
			state: "1212",
			opts:  []vipauth.AuthCodeOption{vipauth.Mobile()},
			want:  "https://auth.vip.com/oauth2/authorize?client_id=YOUR_CLIENT_ID&response_type=code&redirect_uri=urn%3Aietf%3Awg%3Aoauth%3A2.0%3Aoob&state=1212&display=mobile",
		},
		{
			name: "no state, base with trailing slash",
			cfg:  vipauth.Config{ClientID: "id", RedirectURL: "https://a.example/cb?x=1&y=2", BaseURL: "http://127.0.0.1:8080/oauth2/"},
			want: "http://127.0.0.1:8080/oauth2/authorize?client_id=id&response_type=code&redirect_uri=https%3A%2F%2Fa.example%2Fcb%3Fx%3D1%26y%3D2",
		},
		{
			name:  "extra parameter and an override",
			cfg:   vipauth.Config{ClientID: "id", RedirectURL: "https://a.example/cb"},
			state: "st",
			opts:  []vipauth.AuthCodeOption{vipauth.SetAuthURLParam("scope", "a b"), vipauth.SetAuthURLParam("state", "other"), nil},
			want:  "https://auth.vip.com/oauth2/authorize?client_id=id&response_type=code&redirect_uri=https%3A%2F%2Fa.example%2Fcb&state=other&scope=a+b",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.cfg.AuthCodeURL(tt.state, tt.opts...)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			_, err = url.Parse(got)
			require.NoError(t, err)
		})
	}
}

func TestNewState(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 200 {
		s := vipauth.NewState()
		require.Regexp(t, regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`), s) // 256 bits, URL-safe
		require.False(t, seen[s], "state repeated")
		seen[s] = true
		assert.Equal(t, s, url.QueryEscape(s))
	}
}

func TestParseCallback(t *testing.T) {
	const state = "Ab3_state_9Zx-ABCDEFGHIJKLMNOPQRSTUVWXYZ01"
	tests := []struct {
		name     string
		query    url.Values
		want     string
		wantKind error
		wantErr  error  // a cause under the kind, when there is one
		wantCode string // the platform's error, verbatim
	}{
		{"code and state", url.Values{"code": {testCode}, "state": {state}}, testCode, nil, nil, ""},
		{"state missing", url.Values{"code": {testCode}}, "", shoptoken.ErrBadRequest, vipauth.ErrStateMismatch, ""},
		{"state differs", url.Values{"code": {testCode}, "state": {state + "x"}}, "", shoptoken.ErrBadRequest, vipauth.ErrStateMismatch, ""},
		{"state differs, same length", url.Values{"code": {testCode}, "state": {"X" + state[1:]}}, "", shoptoken.ErrBadRequest, vipauth.ErrStateMismatch, ""},
		{"denied", url.Values{"error": {"access_denied"}, "error_description": {"用户拒绝授权"}, "state": {state}}, "", shoptoken.ErrReauthorize, vipauth.ErrDenied, "access_denied"},
		{"unknown error code counts as refusal", url.Values{"error": {"10086"}, "error_description": {"cancel"}, "state": {state}}, "", shoptoken.ErrReauthorize, vipauth.ErrDenied, "10086"},
		{"server error", url.Values{"error": {"server_error"}, "state": {state}}, "", shoptoken.ErrUnavailable, nil, "server_error"},
		{"bad client", url.Values{"error": {"unauthorized_client"}, "state": {state}}, "", shoptoken.ErrCredentials, nil, "unauthorized_client"},
		{"bad request", url.Values{"error": {"invalid_request"}, "state": {state}}, "", shoptoken.ErrBadRequest, nil, "invalid_request"},
		{"forged error is a state error", url.Values{"error": {"access_denied"}, "state": {"forged"}}, "", shoptoken.ErrBadRequest, vipauth.ErrStateMismatch, ""},
		{"neither code nor error", url.Values{"state": {state}}, "", shoptoken.ErrBadResponse, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, err := vipauth.ParseCallback(tt.query, state)
			if tt.wantKind == nil {
				require.NoError(t, err)
				assert.Equal(t, tt.want, code)
				return
			}
			e := requirePlatformError(t, err, tt.wantKind)
			assert.Empty(t, code)
			if tt.wantErr != nil {
				assert.ErrorIs(t, err, tt.wantErr)
			}
			assert.Equal(t, tt.wantCode, e.Code)
			assertErrorClean(t, err)
			assert.NotContains(t, err.Error(), state[:12], "the state is not echoed")
		})
	}
}

// The error never contains the state or the code, even when the platform's description repeats them.
func TestParseCallback_descriptionEchoesSecrets(t *testing.T) {
	t.Parallel()
	const state = "Ab3_state_9Zx-ABCDEFGHIJKLMNOPQRSTUVWXYZ01"
	q := url.Values{"error": {"access_denied"}, "state": {state}, "code": {testCode},
		"error_description": {"denied for state=" + state + " code " + testCode}}
	_, err := vipauth.ParseCallback(q, state)
	e := requirePlatformError(t, err, shoptoken.ErrReauthorize)
	assert.Contains(t, e.Message, "denied for state=")
	assertErrorClean(t, err, state, testCode)
}

func TestParseCallback_emptyWantState(t *testing.T) {
	t.Parallel()
	// A lost cookie must not turn into "anything goes".
	_, err := vipauth.ParseCallback(url.Values{"code": {testCode}, "state": {""}}, "")
	requirePlatformError(t, err, shoptoken.ErrBadRequest)
	assert.True(t, errors.Is(err, vipauth.ErrStateMismatch))
}

func TestParseCallback_longDescriptionIsClipped(t *testing.T) {
	t.Parallel()
	long := make([]byte, 5000)
	for i := range long {
		long[i] = 'a'
	}
	_, err := vipauth.ParseCallback(url.Values{"error": {"access_denied"}, "error_description": {string(long) + "\n"}, "state": {"s"}}, "s")
	e := requirePlatformError(t, err, shoptoken.ErrReauthorize)
	assert.LessOrEqual(t, len([]rune(e.Message)), 200)
}

// The whole browser leg against the emulator: the redirect carries code and state back.
func TestConfig_AuthCodeURL_emulatorRoundTrip(t *testing.T) {
	t.Parallel()
	cfg, emu := emulatorConfig(t)
	hc := *emu.Client()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	state := vipauth.NewState()
	authURL, err := cfg.AuthCodeURL(state, vipauth.Mobile())
	require.NoError(t, err)
	resp, err := hc.Get(authURL)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, "isv.example.com", loc.Host)
	code, err := vipauth.ParseCallback(loc.Query(), state)
	require.NoError(t, err)
	assert.NotEmpty(t, code)

	emu.DenyNext()
	authURL, err = cfg.AuthCodeURL(state)
	require.NoError(t, err)
	resp, err = hc.Get(authURL)
	require.NoError(t, err)
	resp.Body.Close()
	loc, err = url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	_, err = vipauth.ParseCallback(loc.Query(), state)
	e := requirePlatformError(t, err, shoptoken.ErrReauthorize)
	assert.ErrorIs(t, err, vipauth.ErrDenied)
	assert.Equal(t, "access_denied", e.Code)
	assert.Equal(t, "authorize", e.Op)
}
