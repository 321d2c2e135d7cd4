package shops_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/fakeclock"
	"github.com/shoptoken/shoptoken/shops"
)

var t0 = time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)

// platform is a counted fake platform: each refresh issues a numbered token for life, rotating
// its refresh token, with a refresh token (grant) that lasts grant.
type platform struct {
	name  string
	now   func() time.Time
	life  time.Duration
	grant time.Duration
	calls atomic.Int64
	shops sync.Map // shop → *atomic.Int64 calls
	fail  atomic.Pointer[error]
	gate  chan struct{}
}

func newPlatform(name string, now func() time.Time) *platform {
	return &platform{name: name, now: now, life: time.Hour}
}

func (p *platform) Platform(app string, opts ...shoptoken.Option) shops.Platform {
	return shops.Platform{
		Name: p.name,
		App:  app,
		Refresher: func(shop string) (shoptoken.Refresher, error) {
			if shop == "bad shop" {
				return nil, &shoptoken.Error{Platform: p.name, Op: "shop", Kind: shoptoken.ErrBadRequest, Message: "no such shop id"}
			}
			return shoptoken.RefresherFunc(func(ctx context.Context, _ *shoptoken.Token, _ shoptoken.Reason) (*shoptoken.Token, error) {
				return p.refresh(ctx, shop)
			}), nil
		},
		Options: append([]shoptoken.Option{shoptoken.WithMinInterval(0)}, opts...),
	}
}

func (p *platform) refresh(ctx context.Context, shop string) (*shoptoken.Token, error) {
	if p.gate != nil {
		select {
		case <-p.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if e := p.fail.Load(); e != nil {
		return nil, *e
	}
	n := p.calls.Add(1)
	v, _ := p.shops.LoadOrStore(shop, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
	now := p.now()
	tok := &shoptoken.Token{AccessToken: fmt.Sprintf("%s-at-%d", p.name, n), RefreshToken: fmt.Sprintf("%s-rt-%d", p.name, n),
		Expiry: now.Add(p.life), IssuedAt: now, Subject: shop}
	if p.grant > 0 {
		tok.RefreshExpiry = now.Add(p.grant)
	}
	return tok, nil
}

func (p *platform) shopCalls(shop string) int64 {
	v, ok := p.shops.Load(shop)
	if !ok {
		return 0
	}
	return v.(*atomic.Int64).Load()
}

func newApp(t *testing.T, p shops.Platform, opts ...shops.Option) *shops.App {
	t.Helper()
	a, err := shops.New(p, opts...)
	require.NoError(t, err)
	t.Cleanup(a.Close)
	return a
}

func TestApp_oneCachePerShopUnderRace(t *testing.T) {
	p := newPlatform("youzan", time.Now)
	a := newApp(t, p.Platform("app1"), shops.WithStore(shoptoken.NewMemoryStore()))
	var wg sync.WaitGroup
	var errs atomic.Int64
	for i := range 400 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := a.Token(context.Background(), "shop-"+strconv.Itoa(i%4)); err != nil {
				errs.Add(1)
			}
		}()
	}
	wg.Wait()
	assert.Zero(t, errs.Load())
	assert.Equal(t, 4, a.Len())
	assert.EqualValues(t, 4, p.calls.Load(), "one platform call per shop")
}

func TestApp_keysAreBuiltBySDK(t *testing.T) {
	st := shoptoken.NewMemoryStore()
	p := newPlatform("youzan", time.Now)
	a := newApp(t, p.Platform("client-1"), shops.WithStore(st))
	tok, err := a.Token(context.Background(), "42587152")
	require.NoError(t, err)
	stored, _, err := st.Load(context.Background(), "youzan/client-1/42587152")
	require.NoError(t, err)
	assert.Equal(t, tok.AccessToken, stored.AccessToken)
	assert.Equal(t, shoptoken.Key{Platform: "youzan", App: "client-1", Shop: "42587152"}, a.Key("42587152"))
	assert.Equal(t, "youzan/client-1", a.Namespace())
	_, err = a.Token(context.Background(), "")
	assert.ErrorIs(t, err, shoptoken.ErrBadRequest)
	_, err = a.Token(context.Background(), "bad shop")
	assert.ErrorIs(t, err, shoptoken.ErrBadRequest)
}

func TestApp_evictsLeastRecentlyUsedAndReloadsFromStore(t *testing.T) {
	st := shoptoken.NewMemoryStore()
	p := newPlatform("youzan", time.Now)
	a := newApp(t, p.Platform("app1"), shops.WithStore(st), shops.WithMaxCaches(16))
	ctx := context.Background()
	for i := range 60 {
		_, err := a.Token(ctx, "shop-"+strconv.Itoa(i))
		require.NoError(t, err)
	}
	assert.LessOrEqual(t, a.Len(), 16)
	assert.EqualValues(t, 60, p.calls.Load())
	// An evicted shop comes back from the store, not from the platform.
	tok, err := a.Token(ctx, "shop-0")
	require.NoError(t, err)
	assert.Equal(t, "youzan-at-1", tok.AccessToken)
	assert.EqualValues(t, 60, p.calls.Load())
}

// failingSaves is a Store whose Saves fail while down is set.
type failingSaves struct {
	shoptoken.Store
	down atomic.Bool
}

func (f *failingSaves) Save(ctx context.Context, key string, tok *shoptoken.Token, prev int64) (int64, error) {
	if f.down.Load() {
		return 0, errors.New("store down")
	}
	return f.Store.Save(ctx, key, tok, prev)
}

func TestApp_neverEvictsPendingOrTheCacheItReturns(t *testing.T) {
	st := &failingSaves{Store: shoptoken.NewMemoryStore()}
	st.down.Store(true)
	defer st.down.Store(false)
	p := newPlatform("youzan", time.Now)
	a := newApp(t, p.Platform("app1"), shops.WithStore(st), shops.WithMaxCaches(1))
	ctx := context.Background()
	_, err := a.Token(ctx, "pending")
	require.NoError(t, err)
	c, err := a.Cache("pending")
	require.NoError(t, err)
	require.True(t, c.Pending())
	tok, err := a.Token(ctx, "fresh")
	require.NoError(t, err, "an open App returned a closed Cache")
	assert.Equal(t, "youzan-at-2", tok.AccessToken)
	assert.Equal(t, 2, a.Len(), "the bound is exceeded rather than a pending token closed")
}

func TestApp_TokenNeverSpuriouslyClosedUnderChurn(t *testing.T) {
	st := shoptoken.NewMemoryStore()
	p := newPlatform("youzan", time.Now)
	a := newApp(t, p.Platform("app1"), shops.WithStore(st), shops.WithMaxCaches(2))
	var closed atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(500 * time.Millisecond)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(deadline); i++ {
				if _, err := a.Token(context.Background(), fmt.Sprintf("shop-%d", (g+i)%40)); errors.Is(err, shoptoken.ErrClosed) {
					closed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	assert.Zero(t, closed.Load(), "Token returned ErrClosed on an open App")
}

func TestApp_afterClose(t *testing.T) {
	p := newPlatform("youzan", time.Now)
	a, err := shops.New(p.Platform("app1"))
	require.NoError(t, err)
	_, err = a.Token(context.Background(), "s")
	require.NoError(t, err)
	a.Close()
	_, err = a.Token(context.Background(), "s")
	assert.ErrorIs(t, err, shoptoken.ErrClosed)
	assert.Zero(t, a.Len())
}

func TestNew_rejectsNonsense(t *testing.T) {
	p := newPlatform("youzan", time.Now)
	for name, tc := range map[string]struct {
		p    shops.Platform
		opt  shops.Option
		want string
	}{
		"no name":         {shops.Platform{App: "a", Refresher: p.Platform("a").Refresher}, nil, "Platform"},
		"no app":          {shops.Platform{Name: "youzan", Refresher: p.Platform("a").Refresher}, nil, "Platform"},
		"no refresher":    {shops.Platform{Name: "youzan", App: "a"}, nil, "Refresher"},
		"nil store":       {p.Platform("a"), shops.WithStore(nil), "WithStore"},
		"negative max":    {p.Platform("a"), shops.WithMaxCaches(-1), "WithMaxCaches"},
		"NaN rate":        {p.Platform("a"), shops.WithRate(math.NaN()), "WithRate"},
		"zero batch":      {p.Platform("a"), shops.WithBatch(0), "WithBatch"},
		"zero sweep":      {p.Platform("a"), shops.WithSweepEvery(0), "WithSweepEvery"},
		"bad engine knob": {p.Platform("a"), shops.WithCacheOptions(shoptoken.WithJitter(math.NaN())), "WithJitter"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := shops.New(tc.p, tc.opt)
			require.ErrorIs(t, err, shoptoken.ErrBadRequest)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// TestApp_Sweep_refreshesIdleGrantsBeforeTheyLapse: 50 shops authorized on day 0 and never asked
// for again are renewed by a later process's Keeper before their 30-day grants lapse.
func TestApp_Sweep_refreshesIdleGrantsBeforeTheyLapse(t *testing.T) {
	clk := fakeclock.New(t0)
	st := shoptoken.NewMemoryStore()
	p := newPlatform("veapi", clk.Now)
	p.life, p.grant = 90*24*time.Hour, 30*24*time.Hour
	newA := func() *shops.App {
		pl := p.Platform("acct", shoptoken.WithEarlyRefresh(7*24*time.Hour), shoptoken.WithJitter(0))
		pl.Clock = clk
		return newApp(t, pl, shops.WithStore(st), shops.WithMaxCaches(5), shops.WithRate(1e6))
	}
	a := newA()
	ctx := context.Background()
	for i := range 50 {
		_, err := a.Token(ctx, "shop-"+strconv.Itoa(i))
		require.NoError(t, err)
	}
	require.NoError(t, a.Shutdown(ctx), "writes every due time")
	due, err := st.Due(ctx, "veapi/acct", t0.Add(365*24*time.Hour), 0)
	require.NoError(t, err)
	assert.Len(t, due, 50, "every new token is scheduled")
	assert.EqualValues(t, 50, p.calls.Load())

	b := newA() // a later process; it holds nothing
	res, err := b.Sweep(ctx)
	require.NoError(t, err)
	assert.Zero(t, res.Due, "nothing is due on day 0")

	clk.Advance(24 * 24 * time.Hour) // day 24: grants lapse on day 30; planned refresh from day 23
	res, err = b.Sweep(ctx)
	require.NoError(t, err)
	assert.Equal(t, 50, res.Due)
	assert.Equal(t, 50, res.Refreshed)
	assert.Empty(t, res.Reauthorize)
	assert.EqualValues(t, 100, p.calls.Load(), "one platform call per shop")
	for i := range 50 {
		tok, _, err := st.Load(ctx, "veapi/acct/shop-"+strconv.Itoa(i))
		require.NoError(t, err)
		assert.True(t, tok.RefreshExpiry.After(clk.Now().Add(29*24*time.Hour)), "the chain is renewed")
	}
	res, err = b.Sweep(ctx)
	require.NoError(t, err)
	assert.Zero(t, res.Due, "a second sweep finds nothing due")
}

func TestApp_Sweep_reportsGrantsThatNeedAPerson(t *testing.T) {
	clk := fakeclock.New(t0)
	st := shoptoken.NewMemoryStore()
	pl := shops.Platform{Name: "vipauth", App: "client", Clock: clk,
		Refresher: func(string) (shoptoken.Refresher, error) {
			return shoptoken.RefresherFunc(func(context.Context, *shoptoken.Token, shoptoken.Reason) (*shoptoken.Token, error) {
				return nil, &shoptoken.Error{Platform: "vipauth", Kind: shoptoken.ErrReauthorize, Message: "cannot refresh"}
			}), nil
		},
		Options: []shoptoken.Option{shoptoken.WithEarlyRefresh(0), shoptoken.WithGrantWarning(72 * time.Hour)}}
	var reported []shoptoken.Key
	var events []shoptoken.Key
	a := newApp(t, pl, shops.WithStore(st),
		shops.WithOnReauthorize(func(k shoptoken.Key, _ error) { reported = append(reported, k) }),
		shops.WithEvents(func(e shoptoken.Event) {
			if e.Kind == shoptoken.EventGrantExpiring {
				events = append(events, e.Key)
			}
		}))
	ctx := context.Background()
	require.NoError(t, a.Set(ctx, "user-1", &shoptoken.Token{AccessToken: "vip-token-1", Expiry: t0.Add(30 * 24 * time.Hour)}))
	clk.Advance(27*24*time.Hour + time.Hour)
	res, err := a.Sweep(ctx)
	require.NoError(t, err)
	want := shoptoken.Key{Platform: "vipauth", App: "client", Shop: "user-1"}
	assert.Equal(t, []shoptoken.Key{want}, res.Reauthorize)
	assert.Equal(t, []shoptoken.Key{want}, reported)
	assert.Equal(t, []shoptoken.Key{want}, events, "the same identifiers in events and Keeper callbacks")
	tok, err := a.Token(ctx, "user-1")
	require.NoError(t, err, "the token still works until it expires")
	assert.Equal(t, "vip-token-1", tok.AccessToken)
	res, _ = a.Sweep(ctx)
	assert.Zero(t, res.Due, "reported once, then unscheduled")
}

func TestApp_Sweep_spacesShopsByRate(t *testing.T) {
	st := shoptoken.NewMemoryStore()
	p := newPlatform("youzan", time.Now)
	a := newApp(t, p.Platform("app1"), shops.WithStore(st), shops.WithRate(4))
	var pauses []time.Duration
	shops.SetSleep(a, func(ctx context.Context, d time.Duration) error {
		pauses = append(pauses, d)
		return ctx.Err()
	})
	ctx := context.Background()
	schedule := func() {
		for _, s := range []string{"a", "b", "c"} {
			require.NoError(t, st.Schedule(ctx, a.Namespace(), shoptoken.Due{Key: a.Key(s).String(), At: time.Now().Add(-time.Minute)}))
		}
	}
	schedule()
	res, err := a.Sweep(ctx)
	require.NoError(t, err)
	assert.Equal(t, 3, res.Due)
	assert.Equal(t, []time.Duration{250 * time.Millisecond, 250 * time.Millisecond}, pauses,
		"one pause between each two shops, none before the first")
	assert.EqualValues(t, 3, p.calls.Load())

	schedule()
	cctx, cancel := context.WithCancel(ctx)
	shops.SetSleep(a, func(ctx context.Context, d time.Duration) error {
		cancel()
		return ctx.Err()
	})
	res, err = a.Sweep(cctx)
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, 3, res.Due)
	assert.Equal(t, 1, res.Refreshed+res.NotDue+res.Failed, "only the first shop was looked at")
}

func TestApp_Sweep_spreadsRetries(t *testing.T) {
	st := shoptoken.NewMemoryStore()
	now := time.Now()
	clk := fakeclock.New(now)
	p := newPlatform("youzan", clk.Now)
	down := error(&shoptoken.Error{Op: "refresh", Kind: shoptoken.ErrUnavailable})
	p.fail.Store(&down)
	pl := p.Platform("app1")
	pl.Clock = clk
	a := newApp(t, pl, shops.WithStore(st), shops.WithRetryFailed(time.Hour), shops.WithRate(1e9))
	ctx := context.Background()
	const n = 40
	for i := range n {
		require.NoError(t, st.Schedule(ctx, a.Namespace(), shoptoken.Due{Key: a.Key("k" + strconv.Itoa(i)).String(), At: now.Add(-time.Minute)}))
	}
	res, err := a.Sweep(ctx)
	require.NoError(t, err)
	assert.Equal(t, n, res.Failed)
	ns := a.Namespace()
	early, _ := st.Due(ctx, ns, now.Add(time.Hour-time.Millisecond), n)
	assert.Empty(t, early, "none before one retry period")
	half, _ := st.Due(ctx, ns, now.Add(75*time.Minute), n)
	all, _ := st.Due(ctx, ns, now.Add(91*time.Minute), n)
	assert.Len(t, all, n, "all within one and a half")
	assert.Positive(t, len(half))
	assert.Less(t, len(half), n, "spread, not one instant")
}

// TestApp_dueIndexNeverDropsAShop: a cold start of 100 000 shops, first without stored tokens
// (each shop's first Token fetches and saves one) and then, in a later process, from the stored
// tokens (Preload): every shop is in the due index, none dropped.
func TestApp_dueIndexNeverDropsAShop(t *testing.T) {
	if testing.Short() {
		t.Skip("100 000 shops")
	}
	const n = 100_000
	st := shoptoken.NewMemoryStore()
	p := newPlatform("youzan", time.Now)
	a := newApp(t, p.Platform("app1", shoptoken.WithEarlyRefresh(time.Minute)), shops.WithStore(st))
	ctx := context.Background()
	names := make([]string, n)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 8 {
				names[i] = strconv.Itoa(40000000 + i)
				if _, err := a.Token(ctx, names[i]); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	require.NoError(t, a.Shutdown(ctx))
	due, err := st.Due(ctx, a.Namespace(), time.Now().Add(time.Hour), 0)
	require.NoError(t, err)
	assert.Len(t, due, n, "shops in the due index after a cold start without stored tokens")

	st2 := shoptoken.NewMemoryStore() // the same tokens, no due index yet
	for _, s := range names {
		tok, v, err := st.Load(ctx, "youzan/app1/"+s)
		require.NoError(t, err)
		_, err = st2.Save(ctx, "youzan/app1/"+s, tok, v-1)
		require.NoError(t, err)
	}
	b := newApp(t, p.Platform("app1", shoptoken.WithEarlyRefresh(time.Minute)), shops.WithStore(st2))
	loaded, err := b.Preload(ctx, names)
	require.NoError(t, err)
	assert.Equal(t, n, loaded)
	require.NoError(t, b.Shutdown(ctx))
	due, err = st2.Due(ctx, b.Namespace(), time.Now().Add(time.Hour), 0)
	require.NoError(t, err)
	assert.Len(t, due, n, "shops in the due index after a cold start from stored tokens")
	assert.EqualValues(t, n, p.calls.Load(), "Preload made no platform call")
}

func TestApp_Range(t *testing.T) {
	p := newPlatform("youzan", time.Now)
	a := newApp(t, p.Platform("app1"))
	ctx := context.Background()
	for i := range 300 {
		_, err := a.Token(ctx, "s"+strconv.Itoa(i))
		require.NoError(t, err)
	}
	seen := map[string]bool{}
	a.Range(func(k shoptoken.Key, tok *shoptoken.Token) bool {
		assert.Equal(t, "youzan/app1", k.Namespace())
		assert.Equal(t, k.Shop, tok.Subject)
		seen[k.Shop] = true
		return true
	})
	assert.Len(t, seen, 300)
	n := 0
	a.Range(func(shoptoken.Key, *shoptoken.Token) bool { n++; return n < 10 })
	assert.Equal(t, 10, n, "stops when fn returns false")
}

func TestApp_Sweep_reportsEverySweepToOnSweep(t *testing.T) {
	clk := fakeclock.New(t0)
	st := shoptoken.NewMemoryStore()
	p := newPlatform("veapi", clk.Now)
	p.life = 2 * time.Hour
	pl := p.Platform("acct", shoptoken.WithEarlyRefresh(time.Hour), shoptoken.WithJitter(0))
	pl.Clock = clk
	type sweep struct {
		app shoptoken.Key
		res shops.SweepResult
		err error
	}
	ctx := context.Background()
	// The shops' tokens come from an earlier process: a Keeper that held their Caches would race
	// their own refresh-ahead timers, which fire on Advance too.
	first := newApp(t, pl, shops.WithStore(st))
	for i := range 3 {
		_, err := first.Token(ctx, "shop-"+strconv.Itoa(i))
		require.NoError(t, err)
	}
	require.NoError(t, first.Shutdown(ctx))
	var got []sweep
	a := newApp(t, pl, shops.WithStore(st), shops.WithRate(1e6),
		shops.WithOnSweep(func(app shoptoken.Key, res shops.SweepResult, err error) { got = append(got, sweep{app, res, err}) }))
	_, err := a.Sweep(ctx)
	require.NoError(t, err)
	clk.Advance(90 * time.Minute)
	res, err := a.Sweep(ctx)
	require.NoError(t, err)
	require.Equal(t, 3, res.Due, "%+v", res)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = a.Sweep(cancelled)
	require.ErrorIs(t, err, context.Canceled)

	app := shoptoken.Key{Platform: "veapi", App: "acct"}
	require.Len(t, got, 3, "one call per sweep")
	assert.Equal(t, sweep{app, shops.SweepResult{}, nil}, got[0], "a sweep with nothing due is reported too")
	assert.Equal(t, sweep{app, res, nil}, got[1])
	assert.Equal(t, app, got[2].app)
	assert.ErrorIs(t, got[2].err, context.Canceled, "the error Sweep returns")
}

// TestApp_Close_writesPendingDueTimes: due times still waiting for their batch are written when
// the App is closed, not dropped.
func TestApp_Close_writesPendingDueTimes(t *testing.T) {
	st := shoptoken.NewMemoryStore()
	p := newPlatform("youzan", time.Now)
	a, err := shops.New(p.Platform("app1", shoptoken.WithEarlyRefresh(time.Minute)), shops.WithStore(st))
	require.NoError(t, err)
	for i := range 20 {
		_, err := a.Token(context.Background(), "s"+strconv.Itoa(i))
		require.NoError(t, err)
	}
	a.Close() // at once: the writer's batch has not gone out yet
	due, err := st.Due(context.Background(), a.Namespace(), time.Now().Add(time.Hour), 0)
	require.NoError(t, err)
	assert.Len(t, due, 20)
}

// TestApp_Shutdown_waitsForRefreshes: the Keeper is stopped and a refresh under way, whose caller
// gave up, is waited for: Shutdown returns once its token is saved, and the App is closed after.
func TestApp_Shutdown_waitsForRefreshes(t *testing.T) {
	st := shoptoken.NewMemoryStore()
	p := newPlatform("veapi", time.Now)
	p.gate = make(chan struct{})
	a, err := shops.New(p.Platform("acct"), shops.WithStore(st), shops.WithSweepEvery(10*time.Millisecond))
	require.NoError(t, err)
	ran := make(chan error, 1)
	go func() { ran <- a.Run(context.Background()) }()
	cctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err = a.Token(cctx, "shop-1")
	require.Error(t, err, "the caller gave up")

	done := make(chan error, 1)
	go func() { done <- a.Shutdown(context.Background()) }()
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned %v while a refresh was under way", err)
	case <-time.After(50 * time.Millisecond):
	}
	p.gate <- struct{}{}
	require.NoError(t, <-done)
	require.NoError(t, <-ran, "Run returns nil after Shutdown")
	stored, _, err := st.Load(context.Background(), "veapi/acct/shop-1")
	require.NoError(t, err)
	assert.Equal(t, "veapi-at-1", stored.AccessToken, "the refresh's token is saved")
	_, err = a.Token(context.Background(), "shop-1")
	assert.ErrorIs(t, err, shoptoken.ErrClosed)
}
