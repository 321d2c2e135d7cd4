package vvtool_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/defaultclient"
	"github.com/shoptoken/shoptoken/internal/testkit"
	"github.com/shoptoken/shoptoken/shoptokentest"
	"github.com/shoptoken/shoptoken/vvtool"
)

// Distinctive secrets: no 8-character piece of them occurs in ordinary text.
const (
	edgeKey   = "AKq7Zr2xW9pL4mV8sB1nC6dF3gH5jK0tY2uE7aQz" // AccessKey
	edgeToken = "TKm4Nb7Vc2Xz9Lk5Jh1Gf8Ds3Ap6Qw0Er4Ty2uWx" // access token
)

// TestConfig_FetchToken_escapedNameNotLogged: an answer whose member name is JSON-escaped is read
// as encoding/json reads it, and the debug log's body does not show the token.
func TestConfig_FetchToken_escapedNameNotLogged(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"access\u005ftoken":"`+edgeToken+`","expires_in":3600,"token_type":"Bearer"}`)
	}))
	defer srv.Close()
	logger, logs := testkit.Logger()
	tok, err := vvtool.Config{Account: "acct", AccessKey: edgeKey, TokenURL: srv.URL + "/oauth/token", Logger: logger}.FetchToken(context.Background())
	require.NoError(t, err)
	assert.Equal(t, edgeToken, tok.AccessToken)
	require.Contains(t, logs.String(), `"body"`)
	testkit.NoSecret(t, "debug log", []string{edgeKey, edgeToken}, logs.String())
}

// TestNewClient_nilBaseHasTimeouts: a nil Config.HTTPClient is the SDK's default client, never
// one without a timeout. HTTPClient returns a copy: changing it leaves the Client as it was.
func TestNewClient_nilBaseHasTimeouts(t *testing.T) {
	src, err := vvtool.NewSource(vvtool.Config{Account: "acct", AccessKey: edgeKey})
	require.NoError(t, err)
	defer src.Close()
	cl := newClient(t, src, nil)
	hc := cl.HTTPClient()
	assert.Equal(t, defaultclient.Timeout, hc.Timeout)
	base, ok := hc.Transport.(*shoptoken.Transport).Base.(*http.Transport)
	require.True(t, ok)
	assert.Equal(t, defaultclient.HeaderTimeout, base.ResponseHeaderTimeout)
	hc.Timeout = time.Nanosecond
	assert.Equal(t, defaultclient.Timeout, cl.HTTPClient().Timeout)
}

// TestConfig_FetchToken_redirectNotFollowed: /oauth/token answered with a redirect to another
// host: the other host receives nothing, the answer is a typed error naming the status, and no
// error text shows the AccessKey.
func TestConfig_FetchToken_redirectNotFollowed(t *testing.T) {
	for _, status := range testkit.RedirectStatuses() {
		r := testkit.NewRedirect(t, status, "client_secret="+edgeKey,
			`{"access_token":"`+edgeToken+`","expires_in":3600,"token_type":"Bearer"}`)
		tok, err := vvtool.Config{Account: "acct", AccessKey: edgeKey, TokenURL: r.From.URL + "/oauth/token"}.FetchToken(context.Background())
		require.Nil(t, tok)
		require.ErrorIs(t, err, shoptoken.ErrBadResponse)
		var e *shoptoken.Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, status, e.StatusCode)
		assert.Contains(t, e.Message, "redirect to another host")
		assert.Zero(t, r.Hits(), "status %d: the other host got %s", status, r.Seen())
		testkit.NoSecret(t, "error", []string{edgeKey, edgeToken}, testkit.ErrorTexts(err)...)
	}
}

// TestConfig_FetchToken_hostileMessage: a platform message with line breaks, terminal escapes and
// 600 KB of text makes a one-line, bounded error; the whole text stays on RawMessage.
func TestConfig_FetchToken_hostileMessage(t *testing.T) {
	body, err := json.Marshal(map[string]any{"code": 400, "msg": testkit.HostileMessage(), "request_id": "r1\n\x1b[2Jforged"})
	require.NoError(t, err)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(body) }))
	defer srv.Close()
	_, err = vvtool.Config{Account: "acct", AccessKey: edgeKey, TokenURL: srv.URL}.FetchToken(context.Background())
	var e *shoptoken.Error
	require.ErrorAs(t, err, &e)
	testkit.PrintableLine(t, "Error()", err.Error(), 1024)
	assert.Equal(t, testkit.HostileMessage(), e.RawMessage)
}

// TestPrinted_noSecret: everything of this package that holds a secret prints and logs it
// shortened, in every fmt verb and both slog handlers.
func TestPrinted_noSecret(t *testing.T) {
	cfg := vvtool.Config{Account: "acct", AccessKey: edgeKey, TokenURL: "http://api.vv-tool.com/oauth/token?client_secret=" + edgeKey}
	tok := &shoptoken.Token{AccessToken: edgeToken, Expiry: time.Now().Add(time.Hour)}
	good := cfg
	good.TokenURL = ""
	src, err := vvtool.NewSource(good, shoptoken.WithToken(tok))
	require.NoError(t, err)
	defer src.Close()
	cl, err := vvtool.NewClient(good, src)
	require.NoError(t, err)
	hc := cl.HTTPClient()
	for name, v := range map[string]any{
		"Config": cfg, "*Config": &cfg, "source": src, "Client": cl, "HTTPClient": hc, "its Transport": hc.Transport, "token": tok,
	} {
		testkit.NoSecret(t, name, []string{edgeKey, edgeToken}, testkit.Printed(v)...)
	}
	assert.Equal(t, "vvtool.Config{Account: acct, AccessKey: AKq7…(40), TokenURL: http://api.vv-tool.com/oauth/token?client_secret=AKq7…(40)}", cfg.String())
}

// TestLogs_noSecret: a source logging at Debug through both slog handlers, taken through a fetch
// and a replacement against the emulator, logs no piece of the AccessKey or any token.
func TestLogs_noSecret(t *testing.T) {
	emu := shoptokentest.NewVVTool(shoptokentest.WithCredentials("acct", edgeKey))
	defer emu.Close()
	logger, logs := testkit.BothLogger()
	src, err := vvtool.NewSource(vvtool.Config{Account: "acct", AccessKey: edgeKey, TokenURL: emu.URL + "/oauth/token",
		HTTPClient: emu.Client(), Logger: logger}, shoptoken.WithMinInterval(0))
	require.NoError(t, err)
	defer src.Close()
	ctx := context.Background()
	first, err := src.Token(ctx)
	require.NoError(t, err)
	second, err := src.Invalidate(ctx, first)
	require.NoError(t, err)
	require.Contains(t, logs.String(), "httpx: response")
	testkit.NoSecret(t, "log", []string{edgeKey, first.AccessToken, second.AccessToken}, logs.String())
}

// TestConfig_blankInput: an Account or AccessKey of white space only is refused with a typed
// error before anything is sent.
func TestConfig_blankInput(t *testing.T) {
	srv := testkit.NewCounter(t, `{"access_token":"`+edgeToken+`","expires_in":3600}`)
	for _, blank := range testkit.Blanks() {
		for field, cfg := range map[string]vvtool.Config{
			"Config.Account":   {Account: blank, AccessKey: edgeKey, TokenURL: srv.URL},
			"Config.AccessKey": {Account: "acct", AccessKey: blank, TokenURL: srv.URL},
		} {
			_, err := cfg.FetchToken(context.Background())
			require.ErrorIs(t, err, shoptoken.ErrCredentials, "%s %q", field, blank)
			assert.Contains(t, err.Error(), field)
			_, err = vvtool.NewSource(cfg)
			require.ErrorIs(t, err, shoptoken.ErrCredentials, "%s %q", field, blank)
		}
	}
	assert.Zero(t, srv.Hits(), "nothing is sent")
}

// TestConfig_TokenURL: one rule (httpx.CheckBaseURL): no user information, query or fragment;
// vv-tool serves plain http, so http is fine.
func TestConfig_TokenURL(t *testing.T) {
	for _, u := range []string{
		"http://acct:" + edgeKey + "@api.vv-tool.com/oauth/token", "http://api.vv-tool.com/oauth/token?client_secret=" + edgeKey,
		"http://api.vv-tool.com/oauth/token#" + edgeKey, "/oauth/token",
	} {
		_, err := vvtool.NewSource(vvtool.Config{Account: "acct", AccessKey: edgeKey, TokenURL: u})
		require.ErrorIs(t, err, shoptoken.ErrBadRequest, u)
		assert.Contains(t, err.Error(), "Config.TokenURL")
		testkit.NoSecret(t, "error", []string{edgeKey}, err.Error())
	}
	src, err := vvtool.NewSource(vvtool.Config{Account: "acct", AccessKey: edgeKey, TokenURL: "http://api.vv-tool.com/api/proxy/oauth/token"})
	require.NoError(t, err)
	src.Close()
}

// TestConfig_String_encoding: a Config shows Encoding, in fmt and slog alike, only when it is not
// the default, as it leaves out every field at its zero value.
func TestConfig_String_encoding(t *testing.T) {
	cfg := vvtool.Config{Account: "acct", AccessKey: edgeKey}
	assert.Equal(t, "vvtool.Config{Account: acct, AccessKey: AKq7…(40)}", cfg.String())
	cfg.Encoding = vvtool.URLEncoded
	assert.Equal(t, "vvtool.Config{Account: acct, AccessKey: AKq7…(40), Encoding: urlencoded}", cfg.String())
	logger, logs := testkit.Logger()
	logger.Info("config", "config", cfg)
	assert.Contains(t, logs.String(), `"encoding":"urlencoded"`)
	testkit.NoSecret(t, "Config", []string{edgeKey}, testkit.Printed(cfg)...)
}
