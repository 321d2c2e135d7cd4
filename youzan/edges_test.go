package youzan_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/defaultclient"
	"github.com/shoptoken/shoptoken/internal/testkit"
	"github.com/shoptoken/shoptoken/shoptokentest"
	"github.com/shoptoken/shoptoken/youzan"
)

// TestConfig_redirectNotFollowed: /auth/token and the API gateway answered with a redirect to
// another host: the other host receives nothing (neither the secret, refresh token or access token
// again, nor a GET whose answer would be taken for Youzan's), the answer is a typed error naming
// the status, and no error text shows a secret.
func TestConfig_redirectNotFollowed(t *testing.T) {
	ctx := context.Background()
	forged := string(tokenAnswer(secretAccess2, secretRefresh, time.Now().Add(time.Hour)))
	calls := map[string]func(youzan.Config) error{
		"auth/token silent": func(c youzan.Config) error {
			_, err := c.FetchToken(ctx, grant, false)
			return err
		},
		"auth/token refresh_token": func(c youzan.Config) error {
			_, err := c.Refresh(ctx, secretRefresh)
			return err
		},
		"api call": func(c youzan.Config) error {
			src, err := youzan.NewToolSource(c, grant, shoptoken.WithToken(&shoptoken.Token{AccessToken: secretAccess,
				RefreshToken: secretRefresh, Expiry: time.Now().Add(time.Hour)}))
			require.NoError(t, err)
			defer src.Close()
			return mustClient(t, c, src).Call(ctx, "youzan.shop.get", "3.0.0", nil, nil)
		},
	}
	for name, call := range calls {
		for _, status := range testkit.RedirectStatuses() {
			r := testkit.NewRedirect(t, status, "client_secret="+secretClient+"&access_token="+secretAccess+"&refresh_token="+secretRefresh, forged)
			err := call(youzan.Config{ClientID: "id", ClientSecret: secretClient, BaseURL: r.From.URL})
			require.ErrorIs(t, err, shoptoken.ErrBadResponse, "%s %d", name, status)
			var e *shoptoken.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, status, e.StatusCode)
			assert.Contains(t, e.Message, "redirect to another host")
			assert.Zero(t, r.Hits(), "%s %d: the other host got %s", name, status, r.Seen())
			testkit.NoSecret(t, name+" error", allSecrets, testkit.ErrorTexts(err)...)
		}
	}
}

// TestConfig_hostileMessage: a platform message with line breaks, terminal escapes and 600 KB of
// text makes a one-line, bounded error, from the token endpoint and from the gateway alike; the
// whole text stays on RawMessage.
func TestConfig_hostileMessage(t *testing.T) {
	tokenBody, err := json.Marshal(map[string]any{"success": false, "code": 1000, "message": testkit.HostileMessage(), "trace_id": "t1\n\x1b[2Jforged"})
	require.NoError(t, err)
	callBody, err := json.Marshal(map[string]any{"gw_err_resp": map[string]any{"err_code": 4005, "err_msg": testkit.HostileMessage(), "trace_id": "t1\n\x1b[2Jforged"}})
	require.NoError(t, err)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/auth/token" {
			_, _ = w.Write(tokenBody)
			return
		}
		_, _ = w.Write(callBody)
	}))
	defer srv.Close()
	cfg := youzan.Config{ClientID: "id", ClientSecret: secretClient, BaseURL: srv.URL}
	_, tokErr := cfg.FetchToken(context.Background(), grant, false)
	src, err := youzan.NewSource(cfg, grant, shoptoken.WithToken(&shoptoken.Token{AccessToken: secretAccess, Expiry: time.Now().Add(time.Hour)}))
	require.NoError(t, err)
	defer src.Close()
	callErr := mustClient(t, cfg, src).Call(context.Background(), "youzan.shop.get", "3.0.0", nil, nil)
	for _, err := range []error{tokErr, callErr} {
		var e *shoptoken.Error
		require.ErrorAs(t, err, &e)
		testkit.PrintableLine(t, "Error()", err.Error(), 1024)
		assert.Equal(t, testkit.HostileMessage(), e.RawMessage)
	}
}

// TestPrinted_noSecret: everything of this package that holds a secret prints and logs it
// shortened, in every fmt verb and both slog handlers.
func TestPrinted_noSecret(t *testing.T) {
	cfg := youzan.Config{ClientID: "id", ClientSecret: secretClient,
		BaseURL: "https://yz.test/?client_secret=" + secretClient}
	tok := &shoptoken.Token{AccessToken: secretAccess, RefreshToken: secretRefresh, Expiry: time.Now().Add(time.Hour)}
	good := cfg
	good.BaseURL = ""
	src, err := youzan.NewSource(good, grant, shoptoken.WithToken(tok))
	require.NoError(t, err)
	defer src.Close()
	tool, err := youzan.NewToolSource(good, grant, shoptoken.WithToken(tok))
	require.NoError(t, err)
	defer tool.Close()
	cl := mustClient(t, good, src)
	app, err := youzan.NewApp(good)
	require.NoError(t, err)
	defer app.Close()
	require.NoError(t, app.Set(context.Background(), grant, tok))
	for name, v := range map[string]any{
		"Config": cfg, "*Config": &cfg, "source": src, "tool source": tool, "Client": cl, "token": tok,
		"App": app, "App.Client": app.Client(grant), "App.Source": app.Source(grant),
	} {
		testkit.NoSecret(t, name, allSecrets, testkit.Printed(v)...)
	}
}

// TestLogs_noSecret: a source and a Client logging at Debug through both slog handlers, taken
// through a fetch, a forced refresh and an API call against the emulator, log no piece of the
// secret or any token.
func TestLogs_noSecret(t *testing.T) {
	emu := shoptokentest.NewYouzan(shoptokentest.WithCredentials("id", secretClient), shoptokentest.WithGrants("42587152"))
	defer emu.Close()
	logger, logs := testkit.BothLogger()
	cfg := youzan.Config{ClientID: "id", ClientSecret: secretClient, BaseURL: emu.URL,
		HTTPClient: emu.Client(), Logger: logger}
	src, err := youzan.NewSource(cfg, grant, shoptoken.WithLogger(logger), shoptoken.WithMinInterval(0))
	require.NoError(t, err)
	defer src.Close()
	ctx := context.Background()
	first, err := src.Token(ctx)
	require.NoError(t, err)
	second, err := src.Refresh(ctx)
	require.NoError(t, err)
	_ = mustClient(t, cfg, src).Call(ctx, "youzan.shop.get", "3.0.0", nil, nil)
	require.Contains(t, logs.String(), "httpx: response")
	testkit.NoSecret(t, "log", []string{secretClient, first.AccessToken, first.RefreshToken, second.AccessToken, second.RefreshToken}, logs.String())
}

// TestConfig_blankInput: a client id, secret, shop id, code or refresh token of white space only
// is refused with a typed error before anything is sent.
func TestConfig_blankInput(t *testing.T) {
	srv := testkit.NewCounter(t, string(tokenAnswer(secretAccess, secretRefresh, time.Now().Add(time.Hour))))
	ctx := context.Background()
	good := youzan.Config{ClientID: "id", ClientSecret: secretClient, BaseURL: srv.URL}
	for _, blank := range testkit.Blanks() {
		for field, set := range map[string]func(*youzan.Config){
			"Config.ClientID":     func(c *youzan.Config) { c.ClientID = blank },
			"Config.ClientSecret": func(c *youzan.Config) { c.ClientSecret = blank },
		} {
			c := good
			set(&c)
			_, err := c.FetchToken(ctx, grant, false)
			require.ErrorIs(t, err, shoptoken.ErrBadRequest, "%s %q", field, blank)
			assert.Contains(t, err.Error(), field)
			_, err = youzan.NewSource(c, grant)
			require.ErrorIs(t, err, shoptoken.ErrBadRequest, "%s %q", field, blank)
			_, err = youzan.NewApp(c)
			require.ErrorIs(t, err, shoptoken.ErrBadRequest, "%s %q", field, blank)
			assert.Contains(t, err.Error(), field)
			_, err = youzan.NewClient(c, shoptoken.StaticSource(&shoptoken.Token{AccessToken: secretAccess}))
			require.ErrorIs(t, err, shoptoken.ErrBadRequest, "%s %q", field, blank)
		}
		_, err := good.FetchToken(ctx, blank, false)
		require.ErrorIs(t, err, shoptoken.ErrBadRequest, "shop %q", blank)
		assert.Contains(t, err.Error(), "kdt_id")
		_, err = youzan.NewSource(good, blank)
		require.ErrorIs(t, err, shoptoken.ErrBadRequest, "shop %q", blank)
		_, err = youzan.NewToolSource(good, blank)
		require.ErrorIs(t, err, shoptoken.ErrBadRequest, "shop %q", blank)
		_, err = good.ExchangeCode(ctx, blank, "https://isv.example.com/cb")
		require.ErrorIs(t, err, shoptoken.ErrBadRequest, "code %q", blank)
		_, err = good.Refresh(ctx, blank)
		require.ErrorIs(t, err, shoptoken.ErrReauthorize, "refresh token %q", blank)
	}
	assert.Zero(t, srv.Hits(), "nothing is sent")
}

// TestConfig_BaseURL: one rule (httpx.CheckBaseURL): no user information, query or fragment, and
// plain http only to a loopback host or with AllowHTTP, since Youzan serves HTTPS.
func TestConfig_BaseURL(t *testing.T) {
	for _, base := range []string{
		"https://user:" + secretClient + "@yz.test", "https://yz.test/?x=1", "https://yz.test/#f",
		"http://open.youzanyun.com", "yz.test",
	} {
		cfg := youzan.Config{ClientID: "id", ClientSecret: secretClient, BaseURL: base}
		_, err := youzan.NewSource(cfg, grant)
		require.ErrorIs(t, err, shoptoken.ErrBadRequest, base)
		assert.Contains(t, err.Error(), "Config.BaseURL")
		testkit.NoSecret(t, "error", allSecrets, err.Error())
	}
	for _, cfg := range []youzan.Config{
		{BaseURL: "http://127.0.0.1:8080"}, {BaseURL: "http://[::1]:8080"}, {BaseURL: "http://localhost"},
		{BaseURL: "http://open.youzanyun.com", AllowHTTP: true}, {BaseURL: "https://yz.test/"},
	} {
		cfg.ClientID, cfg.ClientSecret = "id", secretClient
		src, err := youzan.NewSource(cfg, grant)
		require.NoError(t, err, cfg.BaseURL)
		src.Close()
	}
}

// TestClient_Call_invalidNameOrVersion: API names and versions are checked strictly, so that
// Call("..", "x") can no longer send POST /api/../x?access_token=...; nothing is sent.
func TestClient_Call_invalidNameOrVersion(t *testing.T) {
	srv := testkit.NewCounter(t, `{"success":true,"code":200,"data":{}}`)
	cfg := youzan.Config{ClientID: "id", ClientSecret: secretClient, BaseURL: srv.URL}
	// A token outside the early window, so that the only request is the API call's.
	src, err := youzan.NewSource(cfg, grant, shoptoken.WithToken(&shoptoken.Token{AccessToken: secretAccess,
		Expiry: time.Now().Add(youzan.AccessTokenLifetime)}))
	require.NoError(t, err)
	defer src.Close()
	cl := mustClient(t, cfg, src)
	ctx := context.Background()
	for _, tt := range []struct{ api, version string }{
		{"..", "x"}, {"youzan.trade.get", ".."}, {"youzan..trade", "4.0.2"}, {"youzan.trade.get.", "4.0.2"},
		{".youzan.trade", "4.0.2"}, {"Youzan.Trade.Get", "4.0.2"}, {"youzan", "4.0.2"}, {"youzan.trade.get", "4.0.x"},
		{"youzan.trade.get", "v4"}, {"youzan.trade.get", "4..0"}, {"youzan.trade.get", ""}, {"", "4.0.2"},
		{"youzan.trade%2fget", "4.0.2"}, {"youzan.trade.get?x=1", "4.0.2"}, {"youzan.trade/get", "4.0.2"},
		{"youzan.trade.get", "4.0.2/../../x"}, {"youzan.trade.get\n", "4.0.2"},
	} {
		err := cl.Call(ctx, tt.api, tt.version, nil, nil)
		require.ErrorIs(t, err, shoptoken.ErrBadRequest, "%q %q", tt.api, tt.version)
		assert.Contains(t, err.Error(), "invalid API")
	}
	assert.Zero(t, srv.Hits(), "nothing is sent")
	require.NoError(t, cl.Call(ctx, "youzan.item.sku_stock.update", "3.0.1", nil, nil))
	assert.Equal(t, int64(1), srv.Hits())
}

// TestConfig_FetchToken_successSpellings: the envelope's success is read by jsonx.Bool, the one
// lenient boolean reader: a token the platform issued is taken whether success came as true,
// "true", 1 or "1".
func TestConfig_FetchToken_successSpellings(t *testing.T) {
	for _, success := range []string{`true`, `"true"`, `1`, `"1"`} {
		srv := testkit.NewCounter(t, `{"success":`+success+`,"code":200,"data":{"expires":`+
			strconv.FormatInt(time.Now().Add(time.Hour).UnixMilli(), 10)+`,"access_token":"`+secretAccess+`","authority_id":"42587152"}}`)
		tok, err := youzan.Config{ClientID: "id", ClientSecret: secretClient, BaseURL: srv.URL}.FetchToken(context.Background(), grant, false)
		require.NoError(t, err, success)
		assert.Equal(t, secretAccess, tok.AccessToken)
	}
}

// TestClient_HTTPClient_defaults: with no Config.HTTPClient, Do and HTTPClient use the SDK's
// default client (never one without a timeout), the one every provider uses; with one, its
// transport and timeout. HTTPClient returns a copy: changing it leaves the Client as it was.
func TestClient_HTTPClient_defaults(t *testing.T) {
	cfg := youzan.Config{ClientID: "id", ClientSecret: secretClient}
	src := shoptoken.StaticSource(&shoptoken.Token{AccessToken: secretAccess})
	hc := mustClient(t, cfg, src).HTTPClient()
	assert.Equal(t, defaultclient.Timeout, hc.Timeout)
	base, ok := hc.Transport.(*shoptoken.Transport).Base.(*http.Transport)
	require.True(t, ok)
	assert.Equal(t, defaultclient.HeaderTimeout, base.ResponseHeaderTimeout)

	own := &http.Client{Timeout: 7 * time.Second, Transport: &http.Transport{}}
	cfg.HTTPClient = own
	cl := mustClient(t, cfg, src)
	hc = cl.HTTPClient()
	assert.Equal(t, 7*time.Second, hc.Timeout)
	assert.Same(t, own.Transport, hc.Transport.(*shoptoken.Transport).Base)
	hc.Timeout = time.Nanosecond
	assert.Equal(t, 7*time.Second, cl.HTTPClient().Timeout)
	assert.Equal(t, 7*time.Second, own.Timeout, "the caller's client is not modified")
}
