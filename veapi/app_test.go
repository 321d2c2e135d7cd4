package veapi

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
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
)

func newTestApp(t *testing.T, c Config, opts ...shops.Option) *App {
	t.Helper()
	a, err := NewApp(c, opts...)
	require.NoError(t, err)
	t.Cleanup(a.Close)
	return a
}

func TestNewApp_invalid(t *testing.T) {
	emu := newEmu(t)
	tests := []struct {
		name string
		cfg  Config
		opts []shops.Option
		kind error
		want string
	}{
		{"no VEKey", Config{App: testApp}, nil, shoptoken.ErrCredentials, "Config.VEKey is required"},
		{"no App", Config{VEKey: "vekey"}, nil, shoptoken.ErrBadRequest, "Config.App is required"},
		{"blank App", Config{VEKey: "vekey", App: "\u3000"}, nil, shoptoken.ErrBadRequest, "Config.App is required"},
		{"bad BaseURL", Config{VEKey: "vekey", App: testApp, BaseURL: "api.veapi.cn"}, nil, shoptoken.ErrBadRequest, "Config.BaseURL"},
		{"bad App option", emuConfig(emu), []shops.Option{shops.WithRate(math.NaN())}, shoptoken.ErrBadRequest, "WithRate"},
		{"bad engine option", emuConfig(emu), []shops.Option{shops.WithCacheOptions(shoptoken.WithJitter(2))}, shoptoken.ErrBadRequest, "WithJitter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := NewApp(tt.cfg, tt.opts...)
			require.ErrorIs(t, err, tt.kind)
			assert.Contains(t, err.Error(), tt.want)
			assert.Nil(t, a)
		})
	}
	a := newTestApp(t, emuConfig(emu), shops.WithStore(shoptoken.NewMemoryStore()))
	for _, shop := range []string{"", " ", "\t\n"} {
		_, err := a.Token(context.Background(), shop)
		require.ErrorIs(t, err, shoptoken.ErrBadRequest, "%q", shop)
	}
	_, err := a.Token(context.Background(), " ")
	assert.Contains(t, err.Error(), "shop is required")
	assert.Zero(t, emu.Stats().TokenRequests, "nothing is sent for a shop id that names nothing")
}

// TestApp_Set_refreshTokenOnly: a shop's chain starts from the refresh token its authorization
// gave. App.Set saves it as it is (no platform call); the shop's first Token redeems it, once
// however many goroutines ask, and the rotation is saved under the SDK-built key before anyone
// sees it.
func TestApp_Set_refreshTokenOnly(t *testing.T) {
	emu := newEmu(t)
	st := shoptoken.NewMemoryStore()
	rec := &testkit.Recorder[shoptoken.Event]{}
	a := newTestApp(t, emuConfig(emu), shops.WithStore(st), shops.WithEvents(rec.Record))
	ctx := context.Background()
	const n = 20
	granted := map[string]string{}
	for i := range n {
		shop := "shop-" + strconv.Itoa(i)
		granted[shop] = emu.NewGrant(shop)
		require.NoError(t, a.Set(ctx, shop, &shoptoken.Token{RefreshToken: granted[shop]}))
		stored, ver, err := st.Load(ctx, "veapi/acct/"+shop)
		require.NoError(t, err)
		assert.Equal(t, granted[shop], stored.RefreshToken)
		assert.Empty(t, stored.AccessToken)
		assert.Equal(t, int64(1), ver)
	}
	assert.Zero(t, emu.Stats().TokenRequests, "Set calls nobody")

	var wg sync.WaitGroup
	var mu sync.Mutex
	got := map[string]map[string]bool{} // shop → access tokens callers saw
	for g := range 5 * n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			shop := "shop-" + strconv.Itoa(g%n)
			tok, err := a.Token(ctx, shop)
			if !assert.NoError(t, err) {
				return
			}
			mu.Lock()
			if got[shop] == nil {
				got[shop] = map[string]bool{}
			}
			got[shop][tok.AccessToken] = true
			mu.Unlock()
		}()
	}
	wg.Wait()

	s := emu.Stats()
	assert.Equal(t, n, s.TokenRequests, "one redemption per shop")
	assert.Equal(t, n, s.Issued)
	assert.Zero(t, s.DeadRefreshUsed)
	assert.Zero(t, s.Errors)
	for i := range n {
		shop := "shop-" + strconv.Itoa(i)
		require.Len(t, got[shop], 1, "every caller of %s saw the same token", shop)
		tok, err := a.Token(ctx, shop)
		require.NoError(t, err)
		assert.Equal(t, shop, tok.Subject, "the shop is the token's subject")
		assert.True(t, emu.Valid(tok.AccessToken))
		assert.NotEqual(t, granted[shop], tok.RefreshToken, "the chain rotated")
		stored, ver, err := st.Load(ctx, a.Key(shop).String())
		require.NoError(t, err)
		assert.Equal(t, tok.RefreshToken, stored.RefreshToken, "the rotation is in the store")
		assert.Equal(t, int64(2), ver)
	}
	persisted := rec.Count(func(e shoptoken.Event) bool { return e.Kind == shoptoken.EventPersisted })
	assert.Equal(t, 2*n, persisted, "the grant and its rotation, per shop")
	for _, e := range rec.All() {
		assert.Equal(t, "veapi", e.Key.Platform)
		assert.Equal(t, testApp, e.Key.App)
		assert.Contains(t, granted, e.Key.Shop)
	}
}

// TestApp_Sweep_onlyOwnShops: two veapi accounts and a Youzan app share one store and one due
// index. A Keeper sweeping one account refreshes exactly that account's due shops, through that
// account's vekey, and never touches the others' tokens or due times.
func TestApp_Sweep_onlyOwnShops(t *testing.T) {
	day := 24 * time.Hour
	clk := shoptokentest.NewClock(t0)
	emuA := newEmu(t, shoptokentest.WithClock(clk))
	emuB := newEmu(t, shoptokentest.WithClock(clk), shoptokentest.WithCredentials("vekey-b", ""))
	cfgA := Config{VEKey: "vekey", App: "acct-a", BaseURL: emuA.URL, HTTPClient: emuA.Client(), Clock: clk}
	cfgB := Config{VEKey: "vekey-b", App: "acct-b", BaseURL: emuB.URL, HTTPClient: emuB.Client(), Clock: clk}
	st := shoptoken.NewMemoryStore()
	ctx := context.Background()
	const n = 10

	// Day 0: both accounts authorize n shops each (the same shop ids) in a process that then
	// stops; the store keeps their tokens and due times.
	for _, acct := range []struct {
		cfg Config
		emu *shoptokentest.Veapi
	}{{cfgA, emuA}, {cfgB, emuB}} {
		a, err := NewApp(acct.cfg, shops.WithStore(st))
		require.NoError(t, err)
		for i := range n {
			shop := "shop-" + strconv.Itoa(i)
			require.NoError(t, a.Set(ctx, shop, &shoptoken.Token{RefreshToken: acct.emu.NewGrant(shop)}))
			_, err := a.Token(ctx, shop)
			require.NoError(t, err)
		}
		require.NoError(t, a.Shutdown(ctx))
	}
	youzanKey := shoptoken.Key{Platform: "youzan", App: "client", Shop: "shop-0"}
	require.NoError(t, st.Schedule(ctx, youzanKey.Namespace(), shoptoken.Due{Key: youzanKey.String(), At: t0.Add(time.Hour)}))
	before := map[string]string{}
	for _, app := range []string{"acct-a", "acct-b"} {
		for i := range n {
			key := "veapi/" + app + "/shop-" + strconv.Itoa(i)
			tok, _, err := st.Load(ctx, key)
			require.NoError(t, err)
			before[key] = tok.RefreshToken
		}
	}
	emuA.ResetStats()
	emuB.ResetStats()

	// Day 84: every token is inside its week-long early window. A later process of account A sweeps.
	clk.Advance(84 * day)
	log, logs := testkit.Logger()
	cfgA.Logger = log
	var reauth atomic.Int64
	keeper := newTestApp(t, cfgA, shops.WithStore(st), shops.WithRate(1e6),
		shops.WithOnReauthorize(func(shoptoken.Key, error) { reauth.Add(1) }))
	res, err := keeper.Sweep(ctx)
	require.NoError(t, err)

	assert.Equal(t, n, res.Due, "only account A's shops are due for A")
	assert.Equal(t, n, res.Refreshed)
	assert.Empty(t, res.Reauthorize)
	assert.Zero(t, reauth.Load(), "no false ErrReauthorize")
	a, b := emuA.Stats(), emuB.Stats()
	assert.Equal(t, n, a.TokenRequests, "one refresh per shop of A, at A's endpoint")
	assert.Zero(t, a.Errors, "no other account's refresh token was sent to A's endpoint")
	assert.Zero(t, a.DeadRefreshUsed)
	assert.Zero(t, b.TokenRequests, "B's endpoint was not called")
	for key, rt := range before {
		tok, _, err := st.Load(ctx, key)
		require.NoError(t, err)
		if strings.HasPrefix(key, "veapi/acct-a/") {
			assert.NotEqual(t, rt, tok.RefreshToken, "%s was renewed", key)
		} else {
			assert.Equal(t, rt, tok.RefreshToken, "%s was not touched", key)
		}
	}
	dueB, err := st.Due(ctx, "veapi/acct-b", clk.Now(), 0)
	require.NoError(t, err)
	assert.Len(t, dueB, n, "B's shops are still due, for B's Keeper")
	dueYouzan, err := st.Due(ctx, youzanKey.Namespace(), clk.Now(), 0)
	require.NoError(t, err)
	assert.Equal(t, []string{youzanKey.String()}, dueYouzan, "another platform's shop is left alone")
	assert.Contains(t, logs.String(), "shoptoken: keeper sweep", "Config.Logger reaches the Keeper")

	res, err = keeper.Sweep(ctx)
	require.NoError(t, err)
	assert.Zero(t, res.Due, "A's shops are rescheduled ahead")
}

// TestApp_Client_sharesRejectedAgainWindow: an API refuses every token of every shop. The first
// call per shop rotates once; after that, Clients made per call (as a handler would) share the
// App's memory of the refusal, so 500 more calls from 50 goroutines rotate nothing. The window
// runs on Config.Clock: once it has passed, a refusal rotates once more.
func TestApp_Client_sharesRejectedAgainWindow(t *testing.T) {
	clk := shoptokentest.NewClock(t0)
	emu := newEmu(t, shoptokentest.WithClock(clk))
	var apiCalls atomic.Int64
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		apiCalls.Add(1)
		fmt.Fprint(w, `{"error":"10020","msg":"sessionkey无效","request_id":"r"}`)
	}))
	defer api.Close()
	cfg := emuConfig(emu)
	cfg.Clock = clk
	a := newTestApp(t, cfg, shops.WithStore(shoptoken.NewMemoryStore()),
		shops.WithCacheOptions(shoptoken.WithMinInterval(0)))
	ctx := context.Background()
	const n = 10
	call := func(shop string, viaHTTPClient bool) string {
		req, err := http.NewRequest(http.MethodGet, api.URL+"/vip/goods?id=1", nil)
		require.NoError(t, err)
		var resp *http.Response
		if viaHTTPClient {
			resp, err = a.Client(shop).HTTPClient().Do(req)
		} else {
			resp, err = a.Client(shop).Do(req)
		}
		if !assert.NoError(t, err) {
			return ""
		}
		defer resp.Body.Close()
		var answer apiAnswer
		_ = jsonDecode(resp, &answer)
		return answer.Error
	}
	for i := range n {
		shop := "shop-" + strconv.Itoa(i)
		require.NoError(t, a.Set(ctx, shop, &shoptoken.Token{RefreshToken: emu.NewGrant(shop)}))
		assert.Equal(t, "10020", call(shop, false), "the API's own refusal is handed back")
	}
	assert.Equal(t, 2*n, emu.Stats().Issued, "per shop: the redemption, and one rotation for the refusal")
	assert.Equal(t, int64(2*n), apiCalls.Load(), "per shop: the call and its one retry")
	assert.Equal(t, n, a.st.guard.len())

	apiCalls.Store(0)
	var wg sync.WaitGroup
	for g := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range 10 {
				assert.Equal(t, "10020", call("shop-"+strconv.Itoa((g+c)%n), c%2 == 0))
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, 2*n, emu.Stats().Issued, "no rotation for a token refused right after its own rotation")
	assert.Equal(t, int64(500), apiCalls.Load(), "each call sent once: no retry")
	assert.Zero(t, emu.Stats().DeadRefreshUsed)

	clk.Advance(RejectedAgainWindow)
	assert.Equal(t, "10020", call("shop-0", false))
	assert.Equal(t, 2*n+1, emu.Stats().Issued, "after the window, a refusal rotates once more")
}

// TestNewClient_staticSource: any TokenSource serves; one that cannot be invalidated gets the
// API's refusal back at once, with no retry.
func TestNewClient_staticSource(t *testing.T) {
	emu := newEmu(t)
	held, err := emuConfig(emu).Refresh(context.Background(), emu.NewGrant("shop-1"))
	require.NoError(t, err)
	cl := mustClient(t, Config{VEKey: "vekey", HTTPClient: emu.Client()}, shoptoken.StaticSource(held))
	req, err := http.NewRequest(http.MethodGet, emu.URL+"/vip/api?method=vip.goods.get", nil)
	require.NoError(t, err)
	a := callAPI(t, cl, req)
	assert.Equal(t, "0", a.Error)
	assert.Equal(t, "shop-1", a.Data.Subject)
	assert.Empty(t, req.URL.Query().Get("sessionkey"), "the caller's request is not modified")

	emu.ExpireNow()
	emu.ResetStats()
	a = callAPI(t, cl, req)
	assert.Equal(t, shoptokentest.VeapiErrSessionExpired, a.Error)
	s := emu.Stats()
	assert.Equal(t, 1, s.APICalls, "no retry: nothing could give a new token")
	assert.Zero(t, s.TokenRequests)

	_, err = mustClient(t, Config{VEKey: "vekey"}, shoptoken.StaticSource(nil)).Do(mustRequest(t, emu.URL+"/vip/api"))
	require.ErrorIs(t, err, shoptoken.ErrReauthorize, "a StaticSource without a token says so")
}

// TestClient_shape: every way of getting a Client gives the same thing: a *Client whose Do and
// HTTPClient send through the Config's HTTP client (the SDK's default when nil), and the Clients
// of an App share it.
func TestClient_shape(t *testing.T) {
	emu := newEmu(t)
	base := &countingTransport{base: emu.Client().Transport}
	cfg := emuConfig(emu)
	cfg.HTTPClient = &http.Client{Transport: base, Timeout: 7 * time.Second}
	a := newTestApp(t, cfg, shops.WithStore(shoptoken.NewMemoryStore()))
	ctx := context.Background()
	for _, shop := range []string{"shop-1", "shop-2"} {
		require.NoError(t, a.Set(ctx, shop, &shoptoken.Token{RefreshToken: emu.NewGrant(shop)}))
	}
	src, err := NewSource(cfg, "shop-3", shoptoken.WithToken(&shoptoken.Token{RefreshToken: emu.NewGrant("shop-3")}))
	require.NoError(t, err)
	defer src.Close()
	standalone := mustClient(t, cfg, src)

	clients := map[string]*Client{"shop-1": a.Client("shop-1"), "shop-2": a.Client("shop-2"), "shop-3": standalone}
	for shop, cl := range clients {
		hc := cl.HTTPClient()
		assert.Equal(t, 7*time.Second, hc.Timeout, "the Config's HTTP client's settings")
		assert.Same(t, base, hc.Transport.(*shoptoken.Transport).Base, "the Config's transport underneath")
		assert.Same(t, hc, cl.HTTPClient(), "one *http.Client per Client")
		for _, viaHTTPClient := range []bool{false, true} {
			req := mustRequest(t, emu.URL+"/vip/api?method=m")
			var resp *http.Response
			if viaHTTPClient {
				resp, err = hc.Do(req)
			} else {
				resp, err = cl.Do(req)
			}
			require.NoError(t, err)
			var answer apiAnswer
			require.NoError(t, jsonDecode(resp, &answer))
			resp.Body.Close()
			assert.Equal(t, shop, answer.Data.Subject, "Do and HTTPClient behave alike")
		}
	}
	assert.Same(t, a.st, a.Client("shop-1").g.st, "an App's Clients share its state")
	assert.Same(t, a.Client("shop-1").g.st, a.Client("shop-2").g.st)
	assert.Equal(t, int64(6+3), base.n.Load(), "six API calls and three redemptions, all through the Config's client")

	def := mustClient(t, Config{VEKey: "vekey"}, src).HTTPClient()
	assert.Equal(t, defaultclient.Timeout, def.Timeout, "nil HTTPClient: the SDK's default timeouts")
}

func TestNewSource_key(t *testing.T) {
	emu := newEmu(t)
	rec := &testkit.Recorder[shoptoken.Event]{}
	st := shoptoken.NewMemoryStore()
	src, err := NewSource(emuConfig(emu), "shop-9", shoptoken.WithStore(st), shoptoken.WithEvents(rec.Record),
		shoptoken.WithToken(&shoptoken.Token{RefreshToken: emu.NewGrant("shop-9")}))
	require.NoError(t, err)
	defer src.Close()
	want := shoptoken.Key{Platform: "veapi", App: testApp, Shop: "shop-9"}
	assert.Equal(t, want, src.Key())
	tok, err := src.Token(context.Background())
	require.NoError(t, err)
	stored, _, err := st.Load(context.Background(), "veapi/acct/shop-9")
	require.NoError(t, err)
	assert.Equal(t, tok.RefreshToken, stored.RefreshToken)
	require.Positive(t, rec.Len())
	for _, e := range rec.All() {
		assert.Equal(t, want, e.Key)
	}

	// A Store needs Config.App, and the error says so rather than naming an option NewSource set.
	noApp := emuConfig(emu)
	noApp.App = ""
	_, err = NewSource(noApp, "shop-9", shoptoken.WithStore(st))
	require.ErrorIs(t, err, shoptoken.ErrBadRequest)
	var e *shoptoken.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, "veapi", e.Platform)
	assert.Contains(t, err.Error(), "Config.App is required with a Store")
	_, err = NewSource(noApp, "shop-9", shoptoken.WithStore(st), shoptoken.WithJitter(2))
	require.ErrorIs(t, err, shoptoken.ErrBadRequest)
	assert.Contains(t, err.Error(), "WithJitter", "another fault is reported as it is")
	plain, err := NewSource(noApp, "shop-9")
	require.NoError(t, err, "without a Store, App may be empty")
	plain.Close()
}

type countingTransport struct {
	base http.RoundTripper
	n    atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.base.RoundTrip(r)
}

func mustRequest(t testing.TB, u string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(t, err)
	return req
}

func jsonDecode(resp *http.Response, v any) error { return json.NewDecoder(resp.Body).Decode(v) }

// TestApp_memoryPerShop: a shop costs the engine's Cache and a two-field Refresher pointing to the
// App's shared state: no Config copy, no HTTP client per shop. The goal is at most 1 KiB of heap
// per shop; the engine's share is measured in bench/.
func TestApp_memoryPerShop(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 20 000 Caches")
	}
	a := newTestApp(t, Config{VEKey: "vekey", App: testApp})
	const n = 20_000
	ids := make([]string, n)
	for i := range ids {
		ids[i] = "shop-" + strconv.Itoa(i)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for _, id := range ids {
		_, err := a.Cache(id)
		require.NoError(t, err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	perShop := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / n
	t.Logf("heap per shop: %d B", perShop)
	assert.Equal(t, n, a.Len())
	assert.Less(t, perShop, int64(1024))
	c, err := a.Cache("shop-1")
	require.NoError(t, err)
	assert.Same(t, a.st, c.Refresher().(*refresher).st, "the Refresher points to the App's state")
	runtime.KeepAlive(ids)
}

// TestApp_noSecret: an App logging at Debug through both slog handlers, taken through a grant, a
// redemption, an API call that rotates, a sweep and a lost chain, shows no piece of the vekey or of
// any token in its logs, its errors or its printed forms.
func TestApp_noSecret(t *testing.T) {
	clk := shoptokentest.NewClock(t0)
	emu := newEmu(t, shoptokentest.WithCredentials(testVEKey, ""), shoptokentest.WithClock(clk))
	rec := &bodyRecorder{base: emu.Client().Transport}
	logger, logs := testkit.BothLogger()
	cfg := Config{VEKey: testVEKey, App: testApp, BaseURL: emu.URL, HTTPClient: &http.Client{Transport: rec},
		Logger: logger, Clock: clk}
	a := newTestApp(t, cfg, shops.WithStore(shoptoken.NewMemoryStore()), shops.WithRate(1e6),
		shops.WithCacheOptions(shoptoken.WithMinInterval(0)))
	ctx := context.Background()
	granted := emu.NewGrant("shop-1")
	secrets := []string{testVEKey, granted}
	require.NoError(t, a.Set(ctx, "shop-1", &shoptoken.Token{RefreshToken: granted}))
	tok, err := a.Token(ctx, "shop-1")
	require.NoError(t, err)
	emu.ExpireNow()
	req := mustRequest(t, emu.URL+"/vip/api")
	resp, err := a.Client("shop-1").Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	clk.Advance(84 * 24 * time.Hour)
	_, err = a.Sweep(ctx)
	require.NoError(t, err)
	emu.RotateElsewhere("shop-1")
	cur, err := a.Token(ctx, "shop-1")
	require.NoError(t, err)
	_, err = a.Invalidate(ctx, "shop-1", cur)
	require.ErrorIs(t, err, shoptoken.ErrReauthorize)

	texts := append(testkit.ErrorTexts(err), logs.String())
	for _, v := range []any{a, a.Client("shop-1"), tok, cfg} {
		texts = append(texts, testkit.Printed(v)...)
	}
	secrets = append(secrets, rec.tokens()...)
	require.Greater(t, len(secrets), 5)
	require.Contains(t, logs.String(), "shoptoken: persisted")
	require.Contains(t, logs.String(), "shoptoken: keeper sweep")
	testkit.NoSecret(t, "App output", secrets, texts...)
}
