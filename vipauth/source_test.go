package vipauth_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/shoptokentest"
	"github.com/shoptoken/shoptoken/vipauth"
)

// eventLog records a Cache's events.
type eventLog struct {
	mu     sync.Mutex
	events []shoptoken.Event
}

func (l *eventLog) record(e shoptoken.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

func (l *eventLog) last() shoptoken.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.events[len(l.events)-1]
}

func (l *eventLog) count(k shoptoken.EventKind) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, e := range l.events {
		if e.Kind == k {
			n++
		}
	}
	return n
}

func TestNewSource_requiresClientIDAndOpenID(t *testing.T) {
	t.Parallel()
	_, err := vipauth.NewSource(vipauth.Config{}, "OPEN1")
	requirePlatformError(t, err, shoptoken.ErrCredentials)
	assert.Contains(t, err.Error(), "Config.ClientID")
	_, err = vipauth.NewSource(vipauth.Config{ClientID: "id"}, "")
	requirePlatformError(t, err, shoptoken.ErrBadRequest)
	assert.Contains(t, err.Error(), "openID is required")
}

func TestNewSource_noToken(t *testing.T) {
	t.Parallel()
	src, err := vipauth.NewSource(vipauth.Config{ClientID: "id"}, "OPEN1")
	require.NoError(t, err)
	defer src.Close()
	_, err = src.Token(context.Background())
	e := requirePlatformError(t, err, shoptoken.ErrReauthorize)
	assert.Equal(t, "vip.com tokens cannot be refreshed: ask the user to authorize again", e.Message)
	assert.Equal(t, "refresh", e.Op)
}

// The token is served until it lapses, a warning comes three days before, and then every caller
// gets ErrReauthorize from one refresher call that makes no platform call.
func TestNewSource_grantWarningThenReauthorize(t *testing.T) {
	t.Parallel()
	clk := shoptokentest.NewClock(time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC))
	tok := &shoptoken.Token{AccessToken: testToken, TokenType: "Bearer", Subject: "OPEN1",
		IssuedAt: clk.Now(), Expiry: clk.Now().Add(30 * 24 * time.Hour)}
	var events eventLog
	// Config.Clock reaches the Cache: no WithClock.
	src, err := vipauth.NewSource(vipauth.Config{ClientID: "id", Clock: clk}, "OPEN1", shoptoken.WithToken(tok),
		shoptoken.WithEvents(events.record))
	require.NoError(t, err)
	defer src.Close()
	ctx := context.Background()

	got, err := src.Token(ctx)
	require.NoError(t, err)
	assert.Equal(t, testToken, got.AccessToken)

	clk.Advance(27*24*time.Hour - time.Minute)
	assert.Zero(t, events.count(shoptoken.EventGrantExpiring), "too early to warn")
	assert.Zero(t, events.count(shoptoken.EventRefreshed)+events.count(shoptoken.EventRefreshFailed), "no refresh ahead")

	clk.Advance(2 * time.Minute)
	require.Equal(t, 1, events.count(shoptoken.EventGrantExpiring))
	warned := events.last()
	assert.Equal(t, "OPEN1", warned.Token.Subject)
	assert.Equal(t, shoptoken.Key{Platform: "vipauth", App: "id", Shop: "OPEN1"}, warned.Key)
	got, err = src.Token(ctx)
	require.NoError(t, err, "the token still works after the warning")
	assert.Equal(t, testToken, got.AccessToken)

	clk.Advance(3 * 24 * time.Hour)
	var wg sync.WaitGroup
	var reauth atomic.Int64
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := src.Token(ctx)
			if err != nil && strings.Contains(err.Error(), "authorize again") {
				reauth.Add(1)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int64(50), reauth.Load())
	assert.Equal(t, 1, events.count(shoptoken.EventGrantLost), "one refresher call for all callers")
	assert.Equal(t, 1, events.count(shoptoken.EventGrantExpiring), "warned once")
}

func TestNewSource_userOptionsWin(t *testing.T) {
	t.Parallel()
	clk := shoptokentest.NewClock(time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC))
	tok := &shoptoken.Token{AccessToken: testToken, Expiry: clk.Now().Add(30 * 24 * time.Hour)}
	var events eventLog
	other := shoptokentest.NewClock(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)) // overridden below
	src, err := vipauth.NewSource(vipauth.Config{ClientID: "id", Clock: other}, "OPEN1", shoptoken.WithToken(tok),
		shoptoken.WithClock(clk), shoptoken.WithEvents(events.record), shoptoken.WithGrantWarning(time.Hour))
	require.NoError(t, err)
	defer src.Close()
	clk.Advance(30*24*time.Hour - 2*time.Hour)
	assert.Zero(t, events.count(shoptoken.EventGrantExpiring))
	clk.Advance(90 * time.Minute)
	require.Equal(t, 1, events.count(shoptoken.EventGrantExpiring))
	assert.Equal(t, shoptoken.Key{Platform: "vipauth", App: "id", Shop: "OPEN1"}, events.last().Key)
}

// After the user authorized again, Set brings the source back.
func TestNewSource_setAfterReauthorization(t *testing.T) {
	t.Parallel()
	cfg, emu := emulatorConfig(t)
	ctx := context.Background()
	src, err := vipauth.NewSource(cfg, "OPEN2")
	require.NoError(t, err)
	defer src.Close()
	_, err = src.Token(ctx)
	require.ErrorIs(t, err, shoptoken.ErrReauthorize)

	tok, err := cfg.Exchange(ctx, emu.NewCode("OPEN2", callbackURL), "127.0.0.1")
	require.NoError(t, err)
	require.NoError(t, src.Set(ctx, tok))
	got, err := src.Token(ctx)
	require.NoError(t, err)
	assert.Equal(t, "OPEN2", got.Subject)
	assert.Equal(t, 1, emu.Stats().TokenRequests, "only the Exchange: the source never calls the token endpoint")
}

func TestRejected(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		want   bool
	}{
		{"401", 401, "", true},
		{"30111 in a 200", 200, `{"code":30111,"msg":"access token invalid"}`, true},
		{"30111 as a string", 200, `{"code":"30111","msg":"access token invalid"}`, true},
		{"30111 in a 400", 400, `{"code":30111,"msg":"access token invalid"}`, true},
		{"revoked", 200, `{"code":0,"msg":"token revoked"}`, true},
		{"success", 200, `{"code":0,"data":{"open_id":"x"}}`, false},
		{"other error", 200, `{"code":30112,"msg":"no permission"}`, false},
		{"HTML", 200, `<html>30111</html>`, false},
		{"empty", 200, ``, false},
		{"big answer is a real one", 200, `{"code":30111,"pad":"` + strings.Repeat("x", 5000) + `"}`, false},
		{"403", 403, `{"code":403}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := &http.Response{StatusCode: tt.status, Body: io.NopCloser(strings.NewReader(tt.body))}
			assert.Equal(t, tt.want, vipauth.Rejected(resp))
			rest, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			assert.Equal(t, tt.body, string(rest), "the body stays readable")
		})
	}
}

func apiGet(t testing.TB, api *vipauth.Client, u string) (string, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(t, err)
	resp, err := api.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct {
		Code int `json:"code"`
		Data struct {
			OpenID string `json:"open_id"`
		} `json:"data"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	require.Equal(t, 0, out.Code)
	return out.Data.OpenID, nil
}

// Obtain, use, reject, and the caller learns that the user must authorize again.
func TestNewClient_rejectionIsReauthorize(t *testing.T) {
	t.Parallel()
	cfg, emu := emulatorConfig(t)
	ctx := context.Background()
	tok, err := cfg.Exchange(ctx, emu.NewCode(shoptokentest.VipAuthOpenID, callbackURL), "127.0.0.1")
	require.NoError(t, err)
	var events eventLog
	src, err := vipauth.NewSource(cfg, tok.Subject, shoptoken.WithToken(tok), shoptoken.WithEvents(events.record))
	require.NoError(t, err)
	defer src.Close()
	api := mustClient(t, cfg, src)

	openID, err := apiGet(t, api, emu.URL+"/api/account/info")
	require.NoError(t, err)
	assert.Equal(t, shoptokentest.VipAuthOpenID, openID)

	emu.RevokeUser(shoptokentest.VipAuthOpenID) // the user changed the password
	_, err = apiGet(t, api, emu.URL+"/api/account/info")
	requirePlatformError(t, err, shoptoken.ErrReauthorize)
	assert.NotContains(t, err.Error(), tok.AccessToken[:8], "the URL in the error carries no token")

	st := emu.Stats()
	assert.Equal(t, 2, st.APICalls, "no retry: there was no new token to retry with")
	assert.Equal(t, 1, st.Rejected)
	assert.Equal(t, 1, st.TokenRequests, "only the Exchange")
	assert.Equal(t, 1, events.count(shoptoken.EventGrantLost))
}

// A 401 is a rejection too.
func TestNewClient_401(t *testing.T) {
	t.Parallel()
	mock := httpmock.NewMockTransport()
	var gotToken string
	mock.RegisterResponder(http.MethodGet, "https://vop.example/api", func(r *http.Request) (*http.Response, error) {
		gotToken = r.URL.Query().Get("access_token")
		return httpmock.NewStringResponse(401, "unauthorized"), nil
	})
	src, err := vipauth.NewSource(vipauth.Config{ClientID: "id"}, "OPEN1",
		shoptoken.WithToken(&shoptoken.Token{AccessToken: testToken, Expiry: time.Now().Add(time.Hour)}))
	require.NoError(t, err)
	defer src.Close()
	req, err := http.NewRequest(http.MethodGet, "https://vop.example/api?x=1", nil)
	require.NoError(t, err)
	_, err = mustClient(t, vipauth.Config{ClientID: "id", HTTPClient: &http.Client{Transport: mock}}, src).Do(req)
	requirePlatformError(t, err, shoptoken.ErrReauthorize)
	assert.Equal(t, testToken, gotToken)
	assert.Equal(t, "x=1", req.URL.RawQuery, "the caller's request is left alone")
	assert.Equal(t, 1, mock.GetTotalCallCount())
}

// Many goroutines use one source; the upstream counts every call; a revocation costs one
// refresher call however many requests see it.
func TestNewClient_concurrent(t *testing.T) {
	t.Parallel()
	cfg, emu := emulatorConfig(t)
	ctx := context.Background()
	tok, err := cfg.Exchange(ctx, emu.NewCode(shoptokentest.VipAuthOpenID, callbackURL), "127.0.0.1")
	require.NoError(t, err)
	var events eventLog
	src, err := vipauth.NewSource(cfg, tok.Subject, shoptoken.WithToken(tok), shoptoken.WithEvents(events.record))
	require.NoError(t, err)
	defer src.Close()
	api := mustClient(t, cfg, src).HTTPClient()
	emu.ResetStats()

	const n = 64
	run := func() (ok, reauth int64) {
		var wg sync.WaitGroup
		var okN, reN atomic.Int64
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := api.Get(emu.URL + "/api/account/info")
				switch {
				case err == nil:
					resp.Body.Close()
					okN.Add(1)
				case strings.Contains(err.Error(), "authorize again"):
					reN.Add(1)
				}
			}()
		}
		wg.Wait()
		return okN.Load(), reN.Load()
	}

	ok, _ := run()
	assert.Equal(t, int64(n), ok)
	assert.Equal(t, n, emu.Stats().APICalls)
	assert.Zero(t, emu.Stats().TokenRequests)

	emu.RevokeUser(shoptokentest.VipAuthOpenID)
	emu.ResetStats()
	ok, reauth := run()
	assert.Zero(t, ok)
	assert.Equal(t, int64(n), reauth)
	st := emu.Stats()
	assert.Equal(t, st.APICalls, st.Rejected, "every request that reached the API was rejected")
	assert.GreaterOrEqual(t, st.APICalls, 1)
	assert.LessOrEqual(t, st.APICalls, n, "a rejected request is never retried")
	assert.Zero(t, st.TokenRequests)
	assert.Equal(t, 1, events.count(shoptoken.EventGrantLost), "one refresher call")
}

// Two processes share a Store: when one of them Sets the token of a new authorization, the
// other, whose token was just rejected, picks it up and its request goes through.
func TestNewSource_fleetPicksUpNewAuthorization(t *testing.T) {
	t.Parallel()
	cfg, emu := emulatorConfig(t)
	ctx := context.Background()
	store := shoptoken.NewMemoryStore()
	old, err := cfg.Exchange(ctx, emu.NewCode(shoptokentest.VipAuthOpenID, callbackURL), "127.0.0.1")
	require.NoError(t, err)

	a, err := vipauth.NewSource(cfg, old.Subject, shoptoken.WithToken(old), shoptoken.WithStore(store))
	require.NoError(t, err)
	defer a.Close()
	b, err := vipauth.NewSource(cfg, old.Subject, shoptoken.WithStore(store))
	require.NoError(t, err)
	defer b.Close()
	apiA := mustClient(t, cfg, a)
	_, err = apiGet(t, apiA, emu.URL+"/api/account/info")
	require.NoError(t, err)
	got, err := b.Token(ctx)
	require.NoError(t, err)
	assert.Equal(t, old.AccessToken, got.AccessToken, "b loaded a's token from the store")

	emu.RevokeUser(shoptokentest.VipAuthOpenID)
	fresh, err := cfg.Exchange(ctx, emu.NewCode(shoptokentest.VipAuthOpenID, callbackURL), "127.0.0.1")
	require.NoError(t, err)
	require.NoError(t, b.Set(ctx, fresh))

	emu.ResetStats()
	openID, err := apiGet(t, apiA, emu.URL+"/api/account/info")
	require.NoError(t, err, "a adopted the stored token and sent the request again")
	assert.Equal(t, shoptokentest.VipAuthOpenID, openID)
	assert.Equal(t, 2, emu.Stats().APICalls)
	assert.Equal(t, 1, emu.Stats().Rejected)
	assert.Equal(t, fresh.AccessToken, a.Current().AccessToken)
}
