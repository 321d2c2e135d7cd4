package vipauth_test

import (
	"context"
	"io"
	"math"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/defaultclient"
	"github.com/shoptoken/shoptoken/internal/testkit"
	"github.com/shoptoken/shoptoken/shops"
	"github.com/shoptoken/shoptoken/shoptokentest"
	"github.com/shoptoken/shoptoken/vipauth"
)

func newApp(t *testing.T, cfg vipauth.Config, opts ...shops.Option) *vipauth.App {
	t.Helper()
	a, err := vipauth.NewApp(cfg, opts...)
	require.NoError(t, err)
	t.Cleanup(a.Close)
	return a
}

// exchange runs a user's authorization against the emulator and returns the token.
func exchange(t testing.TB, cfg vipauth.Config, emu *shoptokentest.VipAuth, openID string) *shoptoken.Token {
	t.Helper()
	tok, err := cfg.Exchange(context.Background(), emu.NewCode(openID, cfg.RedirectURL), "203.0.113.9")
	require.NoError(t, err)
	require.Equal(t, openID, tok.Subject)
	return tok
}

func TestNewApp_invalid(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		cfg  vipauth.Config
		opts []shops.Option
		kind error
		want string
	}{
		"no ClientID":       {vipauth.Config{}, nil, shoptoken.ErrCredentials, "Config.ClientID is required"},
		"blank ClientID":    {vipauth.Config{ClientID: "\u3000"}, nil, shoptoken.ErrCredentials, "Config.ClientID is required"},
		"bad App option":    {vipauth.Config{ClientID: "id"}, []shops.Option{shops.WithRate(math.Inf(1))}, shoptoken.ErrBadRequest, "WithRate"},
		"bad engine option": {vipauth.Config{ClientID: "id"}, []shops.Option{shops.WithCacheOptions(shoptoken.WithGrantWarning(-1))}, shoptoken.ErrBadRequest, "WithGrantWarning"},
	} {
		a, err := vipauth.NewApp(tc.cfg, tc.opts...)
		require.ErrorIs(t, err, tc.kind, name)
		assert.Contains(t, err.Error(), tc.want, name)
		assert.Nil(t, a, name)
	}
	a := newApp(t, vipauth.Config{ClientID: "id"})
	for _, openID := range []string{"", " ", "\u200b"} {
		_, err := a.Token(context.Background(), openID)
		requirePlatformError(t, err, shoptoken.ErrBadRequest)
	}
	_, err := a.Token(context.Background(), " ")
	assert.Contains(t, err.Error(), "openID is required")
}

// TestApp_tokensPerUser: each user's token is served under the SDK-built key, from the store;
// 64 goroutines calling the API through a Client made per call reach the API once each, with
// the right user's token, and never call the token endpoint.
func TestApp_tokensPerUser(t *testing.T) {
	t.Parallel()
	cfg, emu := emulatorConfig(t)
	st := shoptoken.NewMemoryStore()
	rec := &testkit.Recorder[shoptoken.Event]{}
	a := newApp(t, cfg, shops.WithStore(st), shops.WithEvents(rec.Record))
	ctx := context.Background()
	const n = 16
	for i := range n {
		user := "OPEN" + strconv.Itoa(i)
		tok := exchange(t, cfg, emu, user)
		require.NoError(t, a.Set(ctx, user, tok))
		stored, ver, err := st.Load(ctx, "vipauth/id/"+user)
		require.NoError(t, err)
		assert.Equal(t, tok.AccessToken, stored.AccessToken)
		assert.Equal(t, int64(1), ver)
		assert.Equal(t, shoptoken.Key{Platform: "vipauth", App: "id", Shop: user}, a.Key(user))
	}
	emu.ResetStats()

	var wg sync.WaitGroup
	var wrong atomic.Int64
	for g := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range 4 {
				user := "OPEN" + strconv.Itoa((g+c)%n)
				openID, err := apiGet(t, a.Client(user), emu.URL+"/api/account/info")
				if !assert.NoError(t, err) || openID != user {
					wrong.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	assert.Zero(t, wrong.Load(), "every call carried its own user's token")
	s := emu.Stats()
	assert.Equal(t, 256, s.APICalls, "each call sent once")
	assert.Zero(t, s.Rejected)
	assert.Zero(t, s.TokenRequests, "an App never calls the token endpoint")
	assert.Equal(t, n, a.Len())
	for _, e := range rec.All() {
		assert.Equal(t, "vipauth", e.Key.Platform)
		assert.Equal(t, "id", e.Key.App)
	}
}

// TestApp_Set_refusesAnotherUsersToken: installing user B's token as user A's would serve A's
// API calls with B's grant.
func TestApp_Set_refusesAnotherUsersToken(t *testing.T) {
	t.Parallel()
	cfg, emu := emulatorConfig(t)
	st := shoptoken.NewMemoryStore()
	a := newApp(t, cfg, shops.WithStore(st))
	ctx := context.Background()
	tokB := exchange(t, cfg, emu, "OPEN-B")
	err := a.Set(ctx, "OPEN-A", tokB)
	e := requirePlatformError(t, err, shoptoken.ErrBadRequest)
	assert.Equal(t, "set", e.Op)
	assert.Contains(t, e.Message, `"OPEN-B" is not the open_id "OPEN-A"`)
	_, _, err = st.Load(ctx, "vipauth/id/OPEN-A")
	require.ErrorIs(t, err, shoptoken.ErrNotFound, "nothing was stored")
	assertErrorClean(t, err, tokB.AccessToken)

	require.NoError(t, a.Set(ctx, "OPEN-B", tokB))
	anon := &shoptoken.Token{AccessToken: testToken, Expiry: time.Now().Add(time.Hour)}
	require.NoError(t, a.Set(ctx, "OPEN-A", anon), "a token that names no user is taken as the caller says")
	require.ErrorIs(t, a.Set(ctx, "OPEN-A", nil), shoptoken.ErrBadRequest)
}

// TestApp_Set_fleetPicksItUp: two processes share a store. After a user's grant was revoked, one
// process Sets the new authorization's token; the other, whose API call is rejected, adopts it
// from the store and its call goes through.
func TestApp_Set_fleetPicksItUp(t *testing.T) {
	t.Parallel()
	cfg, emu := emulatorConfig(t)
	st := shoptoken.NewMemoryStore()
	p1 := newApp(t, cfg, shops.WithStore(st))
	p2 := newApp(t, cfg, shops.WithStore(st))
	ctx := context.Background()
	const user = shoptokentest.VipAuthOpenID
	require.NoError(t, p1.Set(ctx, user, exchange(t, cfg, emu, user)))
	openID, err := apiGet(t, p2.Client(user), emu.URL+"/api/account/info")
	require.NoError(t, err, "p2 loaded p1's token from the store")
	assert.Equal(t, user, openID)

	emu.RevokeUser(user)
	fresh := exchange(t, cfg, emu, user)
	require.NoError(t, p1.Set(ctx, user, fresh))
	emu.ResetStats()
	openID, err = apiGet(t, p2.Client(user), emu.URL+"/api/account/info")
	require.NoError(t, err, "p2 adopted the new token and sent the call again")
	assert.Equal(t, user, openID)
	s := emu.Stats()
	assert.Equal(t, 2, s.APICalls)
	assert.Equal(t, 1, s.Rejected)
	assert.Zero(t, s.TokenRequests)
	cur, err := p2.Token(ctx, user)
	require.NoError(t, err)
	assert.Equal(t, fresh.AccessToken, cur.AccessToken)
}

// TestApp_Sweep_onlyOwnUsers: two vip.com applications and a veapi account share one store and
// one due index. The Keeper of one application reports exactly its own users whose tokens lapse
// within three days, once each, with the same Key as their EventGrantExpiring, makes no platform
// call, and leaves every other namespace's due times alone. Tokens still work until they expire,
// and a new authorization schedules the user again.
func TestApp_Sweep_onlyOwnUsers(t *testing.T) {
	t.Parallel()
	day := 24 * time.Hour
	clk := shoptokentest.NewClock(time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC))
	cfgA, emuA := emulatorConfig(t, shoptokentest.WithClock(clk))
	cfgA.Clock = clk
	cfgB, emuB := emulatorConfig(t, shoptokentest.WithClock(clk), shoptokentest.WithCredentials("id-b", "secret-b"))
	cfgB.ClientID, cfgB.ClientSecret, cfgB.Clock = "id-b", "secret-b", clk
	st := shoptoken.NewMemoryStore()
	ctx := context.Background()
	const n = 8

	var mu sync.Mutex
	var reported, warned []shoptoken.Key
	a := newApp(t, cfgA, shops.WithStore(st), shops.WithRate(1e6),
		shops.WithOnReauthorize(func(k shoptoken.Key, err error) {
			assert.ErrorIs(t, err, shoptoken.ErrReauthorize)
			mu.Lock()
			reported = append(reported, k)
			mu.Unlock()
		}),
		shops.WithEvents(func(e shoptoken.Event) {
			if e.Kind == shoptoken.EventGrantExpiring {
				mu.Lock()
				warned = append(warned, e.Key)
				mu.Unlock()
			}
		}))
	b := newApp(t, cfgB, shops.WithStore(st))
	for i := range n {
		user := "OPEN" + strconv.Itoa(i)
		require.NoError(t, a.Set(ctx, user, exchange(t, cfgA, emuA, user)))
		require.NoError(t, b.Set(ctx, user, exchange(t, cfgB, emuB, user))) // the same user, another app
	}
	veapiKey := shoptoken.Key{Platform: "veapi", App: "acct", Shop: "OPEN0"}
	require.NoError(t, st.Schedule(ctx, veapiKey.Namespace(), shoptoken.Due{Key: veapiKey.String(), At: clk.Now().Add(time.Hour)}))
	b.Close() // B's process stops; its users stay scheduled in the store
	emuA.ResetStats()

	res, err := a.Sweep(ctx)
	require.NoError(t, err)
	assert.Zero(t, res.Due, "nothing is due on day 0")

	clk.Advance(27*day + time.Hour) // every token lapses on day 30: within the 3-day warning
	res, err = a.Sweep(ctx)
	require.NoError(t, err)
	assert.Equal(t, n, res.Due, "A's users only")
	require.Len(t, res.Reauthorize, n)
	mu.Lock()
	assert.ElementsMatch(t, res.Reauthorize, reported, "each reported once to WithOnReauthorize")
	assert.ElementsMatch(t, reported, warned, "the same Keys in events and Keeper callbacks")
	mu.Unlock()
	for _, k := range res.Reauthorize {
		assert.Equal(t, "vipauth", k.Platform)
		assert.Equal(t, "id", k.App)
	}
	assert.Zero(t, emuA.Stats().TokenRequests, "nothing to refresh: no platform call")
	assert.Zero(t, emuA.Stats().Errors)

	dueB, err := st.Due(ctx, "vipauth/id-b", clk.Now(), 0)
	require.NoError(t, err)
	assert.Len(t, dueB, n, "B's users are still due, for B's Keeper")
	dueVeapi, err := st.Due(ctx, veapiKey.Namespace(), clk.Now(), 0)
	require.NoError(t, err)
	assert.Equal(t, []string{veapiKey.String()}, dueVeapi, "another platform's shop is left alone")

	tok, err := a.Token(ctx, "OPEN3")
	require.NoError(t, err, "the token still works until it expires")
	assert.True(t, emuA.Valid(tok.AccessToken))
	res, err = a.Sweep(ctx)
	require.NoError(t, err)
	assert.Zero(t, res.Due, "reported once, then unscheduled")

	// OPEN3 authorizes again: scheduled for its new token's warning, and reported again then.
	require.NoError(t, a.Set(ctx, "OPEN3", exchange(t, cfgA, emuA, "OPEN3")))
	require.NoError(t, a.Shutdown(ctx), "writes the due time")
	due, err := st.Due(ctx, "vipauth/id", clk.Now().Add(28*day), 0)
	require.NoError(t, err)
	assert.Equal(t, []string{"vipauth/id/OPEN3"}, due)
}

// TestClient_shape: NewClient and App.Client give the same *Client: Do and HTTPClient send
// through Config.HTTPClient (the SDK's default when nil); any TokenSource serves, and one that
// cannot be invalidated gets the rejection back as the answer, with no retry.
func TestClient_shape(t *testing.T) {
	t.Parallel()
	cfg, emu := emulatorConfig(t)
	var sent atomic.Int64
	cfg.HTTPClient = &http.Client{Timeout: 7 * time.Second, Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		sent.Add(1)
		return emu.Client().Transport.RoundTrip(r)
	})}
	tok := exchange(t, cfg, emu, "OPEN1")
	static := mustClient(t, cfg, shoptoken.StaticSource(tok))
	a := newApp(t, cfg)
	require.NoError(t, a.Set(context.Background(), "OPEN1", tok))
	for name, cl := range map[string]*vipauth.Client{"NewClient": static, "App.Client": a.Client("OPEN1")} {
		hc := cl.HTTPClient()
		assert.Equal(t, 7*time.Second, hc.Timeout, name)
		assert.Same(t, hc, cl.HTTPClient(), name)
		openID, err := apiGet(t, cl, emu.URL+"/api/account/info")
		require.NoError(t, err, name)
		assert.Equal(t, "OPEN1", openID, name)
		resp, err := hc.Get(emu.URL + "/api/account/info")
		require.NoError(t, err, name)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode, name)
	}
	assert.Equal(t, int64(1+4), sent.Load(), "the exchange and four API calls, all through Config.HTTPClient")

	emu.RevokeUser("OPEN1")
	emu.ResetStats()
	resp, err := static.Do(mustGet(t, emu.URL+"/api/account/info"))
	require.NoError(t, err, "a StaticSource cannot be invalidated: the rejection is the answer")
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	assert.Contains(t, string(body), "30111")
	assert.Equal(t, 1, emu.Stats().APICalls, "no retry")

	_, err = vipauth.NewClient(cfg, nil)
	requirePlatformError(t, err, shoptoken.ErrBadRequest)
	var nilCache *shoptoken.Cache
	_, err = vipauth.NewClient(cfg, nilCache)
	requirePlatformError(t, err, shoptoken.ErrBadRequest)
	_, err = vipauth.NewClient(vipauth.Config{}, shoptoken.StaticSource(tok))
	requirePlatformError(t, err, shoptoken.ErrCredentials)
	def := mustClient(t, vipauth.Config{ClientID: "id"}, shoptoken.StaticSource(tok)).HTTPClient()
	assert.Equal(t, defaultclient.Timeout, def.Timeout, "nil HTTPClient: the SDK's default timeouts")
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func mustGet(t testing.TB, u string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(t, err)
	return req
}

// TestApp_noSecret: an App logging at Debug through both slog handlers, taken through an
// exchange, API calls, a revocation and a Keeper's report, shows no piece of the client secret,
// the code or any token in its logs, its errors or its printed forms.
func TestApp_noSecret(t *testing.T) {
	t.Parallel()
	clk := shoptokentest.NewClock(time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC))
	cfg, emu := emulatorConfig(t, shoptokentest.WithClock(clk), shoptokentest.WithCredentials("id", testSecret))
	logger, logs := testkit.BothLogger()
	cfg.ClientSecret, cfg.Logger, cfg.Clock = testSecret, logger, clk
	a := newApp(t, cfg, shops.WithStore(shoptoken.NewMemoryStore()), shops.WithRate(1e6))
	ctx := context.Background()
	code := emu.NewCode("OPEN1", callbackURL)
	tok, err := cfg.Exchange(ctx, code, "203.0.113.9")
	require.NoError(t, err)
	require.NoError(t, a.Set(ctx, "OPEN1", tok))
	_, err = apiGet(t, a.Client("OPEN1"), emu.URL+"/api/account/info")
	require.NoError(t, err)
	clk.Advance(27*24*time.Hour + time.Hour)
	res, err := a.Sweep(ctx)
	require.NoError(t, err)
	require.Len(t, res.Reauthorize, 1)
	emu.RevokeUser("OPEN1")
	_, apiErr := a.Client("OPEN1").Do(mustGet(t, emu.URL+"/api/account/info"))
	require.ErrorIs(t, apiErr, shoptoken.ErrReauthorize)
	setErr := a.Set(ctx, "OPEN2", tok)
	require.ErrorIs(t, setErr, shoptoken.ErrBadRequest)

	texts := append(testkit.ErrorTexts(apiErr), testkit.ErrorTexts(setErr)...)
	texts = append(texts, logs.String())
	for _, v := range []any{a, a.Client("OPEN1"), tok, cfg} {
		texts = append(texts, testkit.Printed(v)...)
	}
	require.Contains(t, logs.String(), "grant needs authorization again")
	require.Contains(t, logs.String(), "vipauth: exchanged code")
	testkit.NoSecret(t, "App output", []string{testSecret, code, tok.AccessToken}, texts...)
}
