package youzan_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/testkit"
	"github.com/shoptoken/shoptoken/shops"
	"github.com/shoptoken/shoptoken/shoptokentest"
	"github.com/shoptoken/shoptoken/youzan"
)

var t0 = time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)

// kdtIDs returns n shop ids from first on.
func kdtIDs(first, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprint(first + i)
	}
	return out
}

// emulatedApp starts a strict Youzan emulator that knows grants, for the app (clientID, secret),
// on clk (nil: real time), and returns a Config for it.
func emulatedApp(t *testing.T, clk *shoptokentest.Clock, clientID, secret string, grants []string, opts ...shoptokentest.Option) (*shoptokentest.Youzan, youzan.Config) {
	t.Helper()
	opts = append([]shoptokentest.Option{shoptokentest.WithCredentials(clientID, secret), shoptokentest.WithGrants(grants...)}, opts...)
	cfg := youzan.Config{ClientID: clientID, ClientSecret: secret}
	if clk != nil {
		opts = append(opts, shoptokentest.WithClock(clk))
		cfg.Clock = clk
	}
	yz := shoptokentest.NewYouzan(opts...)
	t.Cleanup(yz.Close)
	cfg.BaseURL = yz.URL
	return yz, cfg
}

func newApp(t *testing.T, cfg youzan.Config, opts ...shops.Option) *youzan.App {
	t.Helper()
	app, err := youzan.NewApp(cfg, opts...)
	require.NoError(t, err)
	t.Cleanup(app.Close)
	return app
}

// TestNewApp_Token_keysPerShop: many goroutines ask an App on a MemoryStore for the tokens of ten
// shops: one token call per shop, each token stored under the SDK-built key
// "youzan/<client_id>/<kdt_id>", and every event names the platform, the app and the shop.
func TestNewApp_Token_keysPerShop(t *testing.T) {
	t.Parallel()
	ids := kdtIDs(40000000, 10)
	yz, cfg := emulatedApp(t, nil, "id", secretClient, ids)
	store := shoptoken.NewMemoryStore()
	var events testkit.Recorder[shoptoken.Event]
	app := newApp(t, cfg, shops.WithStore(store), shops.WithEvents(events.Record))
	ctx := context.Background()

	var wg sync.WaitGroup
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok, err := app.Token(ctx, ids[i%len(ids)])
			if assert.NoError(t, err) {
				assert.Equal(t, ids[i%len(ids)], tok.Subject)
			}
		}()
	}
	wg.Wait()
	st := yz.Stats()
	assert.Equal(t, len(ids), st.TokenRequests, "one token call per shop")
	assert.Equal(t, len(ids), st.Issued)
	assert.Equal(t, len(ids), app.Len())

	for _, shop := range ids {
		want := shoptoken.Key{Platform: "youzan", App: "id", Shop: shop}
		assert.Equal(t, want, app.Key(shop))
		c, err := app.Cache(shop)
		require.NoError(t, err)
		assert.Equal(t, want, c.Key())
		stored, _, err := store.Load(ctx, "youzan/id/"+shop)
		require.NoError(t, err, shop)
		assert.Equal(t, c.Current().AccessToken, stored.AccessToken, shop)
		assert.True(t, yz.Valid(stored.AccessToken), shop)
	}
	evs := events.All()
	require.NotEmpty(t, evs)
	refreshed := map[string]int{}
	for _, e := range evs {
		assert.Equal(t, "youzan", e.Key.Platform)
		assert.Equal(t, "id", e.Key.App)
		assert.Contains(t, ids, e.Key.Shop)
		if e.Kind == shoptoken.EventRefreshed {
			refreshed[e.Key.Shop]++
		}
	}
	assert.Len(t, refreshed, len(ids))
	for shop, n := range refreshed {
		assert.Equal(t, 1, n, shop)
	}
}

// TestApp_Sweep_ownShopsOnly: two Youzan apps share one store (and its due index) with a veapi
// key. Each app's tokens were obtained by a process that has gone; a Keeper process of app A
// sweeps when they are due: it refreshes A's shops only, on A's platform only, and reports no
// false reauthorization; B's shops stay due until B's Keeper sweeps them. A key of B planted in
// A's namespace is not acted on. Logger and Clock from the Config reach the Caches and the Keeper.
func TestApp_Sweep_ownShopsOnly(t *testing.T) {
	t.Parallel()
	clk := shoptokentest.NewClock(t0)
	idsA, idsB := kdtIDs(40000000, 5), kdtIDs(50000000, 5)
	yzA, cfgA := emulatedApp(t, clk, "idA", secretClient, idsA)
	yzB, cfgB := emulatedApp(t, clk, "idB", "other-app-secret-00000000000000000000000", idsB)
	logger, logs := testkit.Logger()
	cfgA.Logger = logger
	store := shoptoken.NewMemoryStore()
	ctx := context.Background()

	// The processes that obtained the tokens, now gone.
	for _, p := range []struct {
		cfg youzan.Config
		ids []string
	}{{cfgA, idsA}, {cfgB, idsB}} {
		app, err := youzan.NewApp(p.cfg, shops.WithStore(store))
		require.NoError(t, err)
		for _, shop := range p.ids {
			tok, err := app.Token(ctx, shop)
			require.NoError(t, err)
			assert.Equal(t, t0, tok.IssuedAt, "the Config's Clock stamps the token")
		}
		require.NoError(t, app.Shutdown(ctx)) // writes the due times
	}
	// Another platform's shop in the same store, and a key of B planted in A's namespace.
	require.NoError(t, store.Schedule(ctx, "veapi/acct", shoptoken.Due{Key: "veapi/acct/shop-1", At: t0}))
	require.NoError(t, store.Schedule(ctx, "youzan/idA", shoptoken.Due{Key: "youzan/idB/" + idsB[0], At: t0}))
	before := map[string]string{}
	for _, shop := range idsB {
		tok, _, err := store.Load(ctx, "youzan/idB/"+shop)
		require.NoError(t, err)
		before[shop] = tok.AccessToken
	}
	yzA.ResetStats()
	yzB.ResetStats()

	var reauth testkit.Recorder[shoptoken.Key]
	keeperA := newApp(t, cfgA, shops.WithStore(store), shops.WithRate(1e6),
		shops.WithOnReauthorize(func(k shoptoken.Key, _ error) { reauth.Record(k) }))
	keeperB := newApp(t, cfgB, shops.WithStore(store), shops.WithRate(1e6))
	res, err := keeperA.Sweep(ctx)
	require.NoError(t, err)
	assert.Zero(t, res.Refreshed, "nothing is due yet")
	assert.Zero(t, yzA.Stats().TokenRequests)

	clk.Advance(6*24*time.Hour + 3*time.Hour) // past every due time, jitter included
	res, err = keeperA.Sweep(ctx)
	require.NoError(t, err)
	assert.Equal(t, len(idsA), res.Refreshed)
	assert.Zero(t, res.Failed)
	assert.Empty(t, res.Reauthorize)
	assert.Zero(t, reauth.Len(), "no false ErrReauthorize")
	stA, stB := yzA.Stats(), yzB.Stats()
	assert.Equal(t, len(idsA), stA.Issued, "one refresh:true per shop of A")
	assert.Zero(t, stB.TokenRequests, "A's Keeper never called for B's shops")
	assert.Zero(t, stB.APICalls)
	for _, shop := range idsA {
		tok, _, err := store.Load(ctx, "youzan/idA/"+shop)
		require.NoError(t, err)
		assert.True(t, yzA.Valid(tok.AccessToken), shop)
		assert.Equal(t, clk.Now(), tok.IssuedAt, shop)
	}
	for _, shop := range idsB {
		tok, _, err := store.Load(ctx, "youzan/idB/"+shop)
		require.NoError(t, err)
		assert.Equal(t, before[shop], tok.AccessToken, "B's token untouched: %s", shop)
	}
	dueA, err := store.Due(ctx, "youzan/idA", clk.Now(), 0)
	require.NoError(t, err)
	assert.Empty(t, dueA, "A's shops are scheduled again, and the planted key is gone")
	dueB, err := store.Due(ctx, "youzan/idB", clk.Now(), 0)
	require.NoError(t, err)
	assert.Len(t, dueB, len(idsB), "B's shops are still due")
	dueV, err := store.Due(ctx, "veapi/acct", clk.Now(), 0)
	require.NoError(t, err)
	assert.Equal(t, []string{"veapi/acct/shop-1"}, dueV)

	res, err = keeperB.Sweep(ctx)
	require.NoError(t, err)
	assert.Equal(t, len(idsB), res.Refreshed)
	assert.Equal(t, len(idsB), yzB.Stats().Issued)
	assert.Equal(t, len(idsA), yzA.Stats().Issued, "B's Keeper never called A's platform")

	assert.Contains(t, logs.String(), `"msg":"shoptoken: keeper sweep","platform":"youzan","app":"idA"`)
	assert.NotContains(t, logs.String(), `"app":"idB"`)
	testkit.NoSecret(t, "log", []string{secretClient}, logs.String())
}

// rateLimitWait is the advice for the n-th 4101 in a row (from 0) of a caller who waits as advised.
func rateLimitWait(n int) time.Duration { return 3 * time.Second << min(n, 4) }

// TestApp_Call_rateLimitBackoff: 1 000 API calls spread over 100 shops, all answered 4101. The
// calls go round the shops ten times, and each shop's calls come in turn through App.Call, a
// Client made by App.Client for that one call, and a Client made once and kept: the advice grows
// 3, 6, 12, 24, 48, 48 s per shop whichever way, because they share the App's back-off. It is
// kept per shop and API: another shop, or another API of the same shop, starts at 3 s; a success
// starts the shop and API again. A Client from NewClient keeps its own.
func TestApp_Call_rateLimitBackoff(t *testing.T) {
	t.Parallel()
	clk := shoptokentest.NewClock(t0)
	ids := kdtIDs(40000000, 101)
	yz, cfg := emulatedApp(t, clk, "id", secretClient, ids)
	app := newApp(t, cfg)
	ctx := context.Background()
	held := map[string]*youzan.Client{}
	for _, shop := range ids {
		held[shop] = app.Client(shop)
	}
	ways := []func(shop string) error{
		func(shop string) error { return app.Call(ctx, shop, "youzan.trade.get", "4.0.2", nil, nil) },
		func(shop string) error { return app.Client(shop).Call(ctx, "youzan.trade.get", "4.0.2", nil, nil) },
		func(shop string) error { return held[shop].Call(ctx, "youzan.trade.get", "4.0.2", nil, nil) },
	}
	advice := func(err error) time.Duration {
		t.Helper()
		require.ErrorIs(t, err, shoptoken.ErrRateLimited)
		d, ok := youzan.RetryAfter(err)
		require.True(t, ok, "%v", err)
		return d
	}

	yz.FailAPIWith(4101, 1000)
	n := 0
	for round := range 10 {
		for _, shop := range ids[:100] {
			got := advice(ways[n%len(ways)](shop))
			require.Equal(t, rateLimitWait(round), got, "round %d, shop %s, way %d", round, shop, n%len(ways))
			n++
		}
		clk.Advance(rateLimitWait(round)) // every caller waits as advised
	}
	st := yz.Stats()
	assert.Equal(t, 1000, st.APICalls)
	assert.Equal(t, 100, st.TokenRequests, "one token per shop, however the client was obtained")

	yz.FailAPIWith(4101, 4)
	assert.Equal(t, 3*time.Second, advice(app.Call(ctx, ids[100], "youzan.trade.get", "4.0.2", nil, nil)), "another shop")
	assert.Equal(t, 3*time.Second, advice(app.Call(ctx, ids[0], "youzan.shop.get", "3.0.0", nil, nil)), "another API")
	own, err := youzan.NewClient(cfg, app.Source(ids[0]))
	require.NoError(t, err)
	assert.Equal(t, 3*time.Second, advice(own.Call(ctx, "youzan.trade.get", "4.0.2", nil, nil)), "NewClient keeps its own")
	assert.Equal(t, 48*time.Second, advice(app.Client(ids[0]).Call(ctx, "youzan.trade.get", "4.0.2", nil, nil)))

	require.NoError(t, app.Call(ctx, ids[0], "youzan.trade.get", "4.0.2", nil, nil))
	yz.FailAPIWith(4101, 2)
	assert.Equal(t, 3*time.Second, advice(held[ids[0]].Call(ctx, "youzan.trade.get", "4.0.2", nil, nil)), "a success starts again")
	assert.Equal(t, 48*time.Second, advice(app.Call(ctx, ids[1], "youzan.trade.get", "4.0.2", nil, nil)), "only for that shop")
}

// TestApp_Call_concurrent: 1 000 goroutines call for 50 shops at once, through App.Call and
// App.Client: one token call per shop, every call answered with its own body. Then bursts of
// concurrent 4101s on the shared back-off: a burst within one wait does not escalate, the next
// burst after waiting does, for every shop alike.
func TestApp_Call_concurrent(t *testing.T) {
	t.Parallel()
	clk := shoptokentest.NewClock(t0)
	ids := kdtIDs(40000000, 50)
	yz, cfg := emulatedApp(t, clk, "id", secretClient, ids)
	app := newApp(t, cfg)
	ctx := context.Background()

	var wg sync.WaitGroup
	for i := range 1000 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			shop := ids[i%len(ids)]
			var out echo
			var err error
			if i%2 == 0 {
				err = app.Call(ctx, shop, "youzan.trade.get", "4.0.2", map[string]int{"n": i}, &out)
			} else {
				err = app.Client(shop).Call(ctx, "youzan.trade.get", "4.0.2", map[string]int{"n": i}, &out)
			}
			if assert.NoError(t, err) {
				assert.JSONEq(t, `{"n":`+itoa(i)+`}`, string(out.Echo))
			}
		}()
	}
	wg.Wait()
	st := yz.Stats()
	assert.Equal(t, len(ids), st.TokenRequests)
	assert.Equal(t, len(ids), st.Issued)
	assert.Equal(t, 1000, st.APICalls)

	for burst, want := range []time.Duration{3 * time.Second, 6 * time.Second, 12 * time.Second} {
		yz.ResetStats()
		yz.FailAPIWith(4101, 200)
		var got testkit.Recorder[time.Duration]
		for i := range 200 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				shop := ids[i%10]
				var err error
				if i%2 == 0 {
					err = app.Call(ctx, shop, "youzan.trade.get", "4.0.2", nil, nil)
				} else {
					err = app.Client(shop).Call(ctx, "youzan.trade.get", "4.0.2", nil, nil)
				}
				d, ok := youzan.RetryAfter(err)
				assert.True(t, ok, "%v", err)
				got.Record(d)
			}()
		}
		wg.Wait()
		assert.Equal(t, 200, yz.Stats().APICalls, "burst %d", burst)
		assert.Zero(t, yz.Stats().TokenRequests)
		assert.Equal(t, 200, got.Count(func(d time.Duration) bool { return d == want }), "burst %d: %v", burst, got.All())
		clk.Advance(want)
	}
}

// TestNewClient_staticSource: NewClient takes any TokenSource. With one that cannot be
// invalidated, a rejection comes back at once (Call: ErrTokenInvalid; Do: the gateway's answer),
// with no token call and no retry.
func TestNewClient_staticSource(t *testing.T) {
	t.Parallel()
	yz, cfg := emulated(t, nil)
	ctx := context.Background()
	tok, err := cfg.FetchToken(ctx, grant, false)
	require.NoError(t, err)
	cl := mustClient(t, cfg, shoptoken.StaticSource(tok))
	yz.ResetStats()

	var out echo
	require.NoError(t, cl.Call(ctx, "youzan.trade.get", "4.0.2", map[string]string{"tid": "E1"}, &out))
	assert.JSONEq(t, `{"tid":"E1"}`, string(out.Echo))
	yz.FailAPIWith(4203, 1)
	err = cl.Call(ctx, "youzan.trade.get", "4.0.2", nil, nil)
	require.ErrorIs(t, err, shoptoken.ErrTokenInvalid)
	var e *shoptoken.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, "4203", e.Code)

	yz.FailAPIWith(4203, 1)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, yz.URL+"/api/youzan.shop.get/3.0.0", strings.NewReader(`{}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := cl.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Contains(t, string(body), `"err_code":4203`)
	st := yz.Stats()
	assert.Equal(t, 3, st.APICalls, "no retry")
	assert.Zero(t, st.TokenRequests, "a static source is never refreshed")
	testkit.NoSecret(t, "answer", []string{tok.AccessToken}, string(body))
}

// TestClient_Do: Do and HTTPClient put the token in the query of a copy of the request, and on
// a rejection (here 4203 while the token endpoint still calls the token current) invalidate it
// and send the request once more with its body.
func TestClient_Do(t *testing.T) {
	t.Parallel()
	yz, cfg := emulatedApp(t, nil, "id", secretClient, []string{grant})
	app := newApp(t, cfg, shops.WithCacheOptions(shoptoken.WithMinInterval(0)))
	ctx := context.Background()
	cl := app.Client(grant)

	send := func(do func(*http.Request) (*http.Response, error), body string) (*http.Request, *http.Response, echo) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, yz.URL+"/api/youzan.trade.get/4.0.2", strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		resp, err := do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var ans struct {
			Success bool `json:"success"`
			Data    echo `json:"data"`
		}
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&ans))
		assert.True(t, ans.Success)
		return req, resp, ans.Data
	}

	req, resp, out := send(cl.Do, `{"tid":"E1"}`)
	assert.JSONEq(t, `{"tid":"E1"}`, string(out.Echo))
	assert.Empty(t, req.URL.RawQuery, "the caller's request never carries the token")
	assert.NotContains(t, resp.Request.URL.String(), "access_token", "nor the answer's request")
	c, err := app.Cache(grant)
	require.NoError(t, err)
	old := c.Current()
	yz.ResetStats()

	yz.FailAPIWith(4203, 1)
	_, _, out = send(cl.HTTPClient().Do, `{"tid":"E2"}`)
	assert.JSONEq(t, `{"tid":"E2"}`, string(out.Echo), "the retry resent the body")
	st := yz.Stats()
	assert.Equal(t, 2, st.APICalls, "rejected once, sent once more")
	assert.Equal(t, 1, st.Rejected)
	assert.Equal(t, 2, st.TokenRequests, "refresh:false handed back the refused token; refresh:true once")
	assert.NotEqual(t, old.AccessToken, c.Current().AccessToken)
}

// TestApp_badInput: NewApp refuses a Config or an option that makes no sense, naming it; App
// methods refuse a shop id that is not a kdt_id; nothing is sent, nothing panics.
func TestApp_badInput(t *testing.T) {
	t.Parallel()
	srv := testkit.NewCounter(t, `{}`)
	good := youzan.Config{ClientID: "id", ClientSecret: secretClient, BaseURL: srv.URL}
	for name, tt := range map[string]struct {
		cfg  youzan.Config
		opts []shops.Option
		want string
	}{
		"no client id":  {youzan.Config{ClientSecret: secretClient}, nil, "Config.ClientID"},
		"no secret":     {youzan.Config{ClientID: "id"}, nil, "Config.ClientSecret"},
		"bad base url":  {youzan.Config{ClientID: "id", ClientSecret: secretClient, BaseURL: "http://yz.example"}, nil, "Config.BaseURL"},
		"bad rate":      {good, []shops.Option{shops.WithRate(-1)}, "WithRate"},
		"nil store":     {good, []shops.Option{shops.WithStore(nil)}, "WithStore"},
		"negative size": {good, []shops.Option{shops.WithMaxCaches(-1)}, "WithMaxCaches"},
	} {
		for _, newApp := range []func(youzan.Config, ...shops.Option) (*youzan.App, error){youzan.NewApp, youzan.NewToolApp} {
			app, err := newApp(tt.cfg, tt.opts...)
			require.ErrorIs(t, err, shoptoken.ErrBadRequest, name)
			assert.Nil(t, app, name)
			assert.Contains(t, err.Error(), tt.want, name)
			testkit.NoSecret(t, name, []string{secretClient}, testkit.ErrorTexts(err)...)
		}
	}
	app := newApp(t, good)
	ctx := context.Background()
	for _, shop := range []string{"", "shop-1", "42587152 "} {
		_, err := app.Token(ctx, shop)
		require.ErrorIs(t, err, shoptoken.ErrBadRequest, "%q", shop)
		require.ErrorIs(t, app.Call(ctx, shop, "youzan.shop.get", "3.0.0", nil, nil), shoptoken.ErrBadRequest, "%q", shop)
		require.ErrorIs(t, app.Client(shop).Call(ctx, "youzan.shop.get", "3.0.0", nil, nil), shoptoken.ErrBadRequest, "%q", shop)
	}
	assert.Zero(t, srv.Hits())
}

// TestNewToolApp: a tool app's shops start from the token ExchangeCode returned (App.Set), rotate
// their refresh tokens through the store, and a shop with no token needs a person.
func TestNewToolApp(t *testing.T) {
	t.Parallel()
	yz, cfg := emulatedApp(t, nil, "id", secretClient, nil)
	store := shoptoken.NewMemoryStore()
	app, err := youzan.NewToolApp(cfg, shops.WithStore(store), shops.WithCacheOptions(shoptoken.WithMinInterval(0)))
	require.NoError(t, err)
	defer app.Close()
	ctx := context.Background()
	first, err := cfg.ExchangeCode(ctx, yz.NewCode(grant), "https://isv.example/callback")
	require.NoError(t, err)
	require.NoError(t, app.Set(ctx, first.Subject, first))
	yz.ResetStats()

	require.NoError(t, app.Call(ctx, grant, "youzan.shop.get", "3.0.0", nil, nil))
	yz.ExpireNow() // 4202: the token is redeemed for a new pair, which is saved first
	require.NoError(t, app.Call(ctx, grant, "youzan.shop.get", "3.0.0", nil, nil))
	st := yz.Stats()
	assert.Equal(t, 1, st.TokenRequests)
	assert.Zero(t, st.DeadRefreshUsed)
	stored, _, err := store.Load(ctx, "youzan/id/"+grant)
	require.NoError(t, err)
	assert.NotEqual(t, first.RefreshToken, stored.RefreshToken)
	assert.Equal(t, grant, stored.Subject)

	_, err = app.Token(ctx, "42587153")
	require.ErrorIs(t, err, shoptoken.ErrReauthorize, "no token for that shop")
	assert.Equal(t, 1, yz.Stats().TokenRequests)
}

// TestConfig_OnRateLimited: every 4101 that Call returns is reported once, with the shop's Key,
// the API and the advice RetryAfter gives, through App.Call, App.Client and NewClient alike; a
// success and other errors are not reported.
func TestConfig_OnRateLimited(t *testing.T) {
	t.Parallel()
	clk := shoptokentest.NewClock(t0)
	ids := kdtIDs(40000000, 2)
	yz, cfg := emulatedApp(t, clk, "id", secretClient, ids)
	type limited struct {
		k    shoptoken.Key
		api  string
		wait time.Duration
		ctx  bool
	}
	var got testkit.Recorder[limited]
	type ctxKey struct{}
	cfg.OnRateLimited = func(ctx context.Context, k shoptoken.Key, api string, wait time.Duration) {
		got.Record(limited{k, api, wait, ctx.Value(ctxKey{}) == "caller"})
	}
	app := newApp(t, cfg)
	ctx := context.WithValue(context.Background(), ctxKey{}, "caller")
	require.NoError(t, app.Call(ctx, ids[0], "youzan.trade.get", "4.0.2", nil, nil))
	yz.FailAPIWith(4101, 3)
	for _, call := range []func() error{
		func() error { return app.Call(ctx, ids[0], "youzan.trade.get", "4.0.2", nil, nil) },
		func() error { return app.Client(ids[1]).Call(ctx, "youzan.shop.get", "3.0.0", nil, nil) },
		func() error {
			own, err := youzan.NewClient(cfg, app.Source(ids[0]))
			require.NoError(t, err)
			return own.Call(ctx, "youzan.trade.get", "4.0.2", nil, nil)
		},
	} {
		require.ErrorIs(t, call(), shoptoken.ErrRateLimited)
		clk.Advance(3 * time.Second)
	}
	yz.FailAPIWith(4204, 1)
	require.ErrorIs(t, app.Call(ctx, ids[0], "youzan.trade.get", "4.0.2", nil, nil), shoptoken.ErrPermission)
	assert.Equal(t, []limited{
		{shoptoken.Key{Platform: "youzan", App: "id", Shop: ids[0]}, "youzan.trade.get", 3 * time.Second, true},
		{shoptoken.Key{Platform: "youzan", App: "id", Shop: ids[1]}, "youzan.shop.get", 3 * time.Second, true},
		{shoptoken.Key{Platform: "youzan", App: "id"}, "youzan.trade.get", 3 * time.Second, true},
	}, got.All())
}
