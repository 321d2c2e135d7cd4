package veapi

import (
	"context"
	"encoding/json"
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
)

// TestNewClient_nilBaseHasTimeouts: a nil base is the SDK's default client, never one without a
// timeout.
func TestNewClient_nilBaseHasTimeouts(t *testing.T) {
	src, err := NewSource(Config{VEKey: testVEKey}, "shop-1")
	require.NoError(t, err)
	defer src.Close()
	hc := mustClient(t, Config{VEKey: testVEKey}, src).HTTPClient()
	assert.Equal(t, defaultclient.Timeout, hc.Timeout)
	base, ok := hc.Transport.(*shoptoken.Transport).Base.(*http.Transport)
	require.True(t, ok)
	assert.Equal(t, defaultclient.HeaderTimeout, base.ResponseHeaderTimeout)
}

// TestConfig_Refresh_redirectNotFollowed: /vip/refreshtoken answered with a redirect to another
// host: the other host receives nothing (neither the vekey and refresh token again, nor a GET
// whose answer would be taken for veapi's), the answer is a typed error naming the status, and no
// error text shows a secret.
func TestConfig_Refresh_redirectNotFollowed(t *testing.T) {
	secrets := []string{testVEKey, testRefresh}
	for _, status := range testkit.RedirectStatuses() {
		r := testkit.NewRedirect(t, status, "vekey="+testVEKey+"&refresh_token="+testRefresh, string(fixture(t, "refresh_ok.json")))
		tok, err := Config{VEKey: testVEKey, BaseURL: r.From.URL}.Refresh(context.Background(), testRefresh)
		require.Nil(t, tok)
		requireRedirectError(t, err, status)
		assert.Zero(t, r.Hits(), "status %d: the other host got %s", status, r.Seen())
		testkit.NoSecret(t, "error", secrets, testkit.ErrorTexts(err)...)
	}
}

func requireRedirectError(t *testing.T, err error, status int) {
	t.Helper()
	require.ErrorIs(t, err, shoptoken.ErrBadResponse)
	var e *shoptoken.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, platform, e.Platform)
	assert.Equal(t, status, e.StatusCode)
	assert.Contains(t, e.Message, "redirect to another host")
}

// TestConfig_Refresh_hostileMessage: a platform message with line breaks, terminal escapes and
// 600 KB of text makes a one-line, bounded error; the whole text stays on RawMessage.
func TestConfig_Refresh_hostileMessage(t *testing.T) {
	body, err := json.Marshal(map[string]string{"error": "10012", "msg": testkit.HostileMessage(), "request_id": "r1\n\x1b[2Jforged"})
	require.NoError(t, err)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(body) }))
	defer srv.Close()
	_, err = Config{VEKey: testVEKey, BaseURL: srv.URL}.Refresh(context.Background(), testRefresh)
	var e *shoptoken.Error
	require.ErrorAs(t, err, &e)
	testkit.PrintableLine(t, "Error()", err.Error(), 1024)
	assert.Equal(t, testkit.HostileMessage(), e.RawMessage)
}

// TestPrinted_noSecret: everything of this package that holds a secret prints and logs it
// shortened, in every fmt verb and both slog handlers.
func TestPrinted_noSecret(t *testing.T) {
	cfg := Config{VEKey: testVEKey, BaseURL: mockBase + "/?vekey=" + testVEKey}
	tok := &shoptoken.Token{AccessToken: fixtureAccess, RefreshToken: testRefresh, Expiry: time.Now().Add(time.Hour)}
	src, err := NewSource(Config{VEKey: testVEKey}, "shop-1", shoptoken.WithToken(tok))
	require.NoError(t, err)
	defer src.Close()
	api := mustClient(t, Config{VEKey: testVEKey}, src)
	app, err := NewApp(Config{VEKey: testVEKey, App: testApp})
	require.NoError(t, err)
	defer app.Close()
	secrets := []string{testVEKey, testRefresh, fixtureAccess}
	for name, v := range map[string]any{
		"Config": cfg, "*Config": &cfg, "source": src, "NewClient": api, "its HTTPClient": api.HTTPClient(),
		"its Transport": api.HTTPClient().Transport, "App.Client": app.Client("shop-1"), "App": app, "token": tok,
		"Refresher": src.Refresher(),
	} {
		testkit.NoSecret(t, name, secrets, testkit.Printed(v)...)
	}
}

// TestLogs_noSecret: a source logging at Debug through both slog handlers, taken through a
// refresh and a rotation against the emulator, logs no piece of the vekey or any token.
func TestLogs_noSecret(t *testing.T) {
	emu := shoptokentest.NewVeapi(shoptokentest.WithCredentials(testVEKey, ""))
	defer emu.Close()
	rt := emu.NewGrant("shop-1")
	logger, logs := testkit.BothLogger()
	src, err := NewSource(Config{VEKey: testVEKey, BaseURL: emu.URL, Logger: logger}, "shop-1",
		shoptoken.WithToken(&shoptoken.Token{RefreshToken: rt, Subject: "shop-1"}), shoptoken.WithMinInterval(0))
	require.NoError(t, err)
	defer src.Close()
	ctx := context.Background()
	first, err := src.Token(ctx)
	require.NoError(t, err)
	second, err := src.Invalidate(ctx, first)
	require.NoError(t, err)
	require.NotEqual(t, first.AccessToken, second.AccessToken)
	require.Contains(t, logs.String(), "httpx: response")
	testkit.NoSecret(t, "log", []string{testVEKey, rt, first.AccessToken, first.RefreshToken, second.AccessToken, second.RefreshToken}, logs.String())
}

// TestConfig_blankInput: a VEKey or refresh token of white space only is refused with a typed
// error before anything is sent.
func TestConfig_blankInput(t *testing.T) {
	srv := testkit.NewCounter(t, string(fixture(t, "refresh_ok.json")))
	ctx := context.Background()
	for _, blank := range testkit.Blanks() {
		_, err := Config{VEKey: blank, BaseURL: srv.URL}.Refresh(ctx, testRefresh)
		require.ErrorIs(t, err, shoptoken.ErrCredentials, "%q", blank)
		assert.Contains(t, err.Error(), "Config.VEKey")
		_, err = NewSource(Config{VEKey: blank}, "shop-1")
		require.ErrorIs(t, err, shoptoken.ErrCredentials, "%q", blank)
		_, err = NewApp(Config{VEKey: blank, App: testApp})
		require.ErrorIs(t, err, shoptoken.ErrCredentials, "%q", blank)
		_, err = NewApp(Config{VEKey: testVEKey, App: blank})
		require.ErrorIs(t, err, shoptoken.ErrBadRequest, "%q", blank)
		assert.Contains(t, err.Error(), "Config.App is required")
		_, err = NewSource(Config{VEKey: testVEKey}, blank)
		require.ErrorIs(t, err, shoptoken.ErrBadRequest, "%q", blank)
		assert.Contains(t, err.Error(), "shop is required")

		_, err = Config{VEKey: testVEKey, BaseURL: srv.URL}.Refresh(ctx, blank)
		require.ErrorIs(t, err, shoptoken.ErrReauthorize, "%q", blank)
		src, err := NewSource(Config{VEKey: testVEKey, BaseURL: srv.URL}, "shop-1", shoptoken.WithToken(&shoptoken.Token{RefreshToken: blank}))
		require.NoError(t, err)
		_, err = src.Token(ctx)
		require.ErrorIs(t, err, shoptoken.ErrReauthorize, "%q", blank)
		src.Close()
	}
	assert.Zero(t, srv.Hits(), "nothing is sent")
}

// TestConfig_BaseURL: one rule (httpx.CheckBaseURL): no user information, query or fragment;
// veapi serves plain http, so http is fine.
func TestConfig_BaseURL(t *testing.T) {
	for _, base := range []string{"http://u:" + testVEKey + "@api.veapi.cn", "http://api.veapi.cn/?vekey=" + testVEKey,
		"http://api.veapi.cn#" + testVEKey, "api.veapi.cn"} {
		_, err := NewSource(Config{VEKey: testVEKey, BaseURL: base}, "shop-1")
		require.ErrorIs(t, err, shoptoken.ErrBadRequest, base)
		assert.Contains(t, err.Error(), "Config.BaseURL")
		testkit.NoSecret(t, "error", []string{testVEKey}, err.Error())
	}
	src, err := NewSource(Config{VEKey: testVEKey, BaseURL: "http://api.veapi.cn/"}, "shop-1")
	require.NoError(t, err)
	src.Close()
}
