package otelshoptoken_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/testkit"
	"github.com/shoptoken/shoptoken/otelshoptoken"
	"github.com/shoptoken/shoptoken/shops"
	"github.com/shoptoken/shoptoken/shoptokentest"
	"github.com/shoptoken/shoptoken/youzan"
)

const (
	clientID     = "otel-client-id"
	clientSecret = "yz-secret-9f8e7d6c5b4a39281706"
)

var (
	platform = attribute.String("shoptoken.platform", "youzan")
	app      = attribute.String("shoptoken.app", clientID)
)

func outcome(s string) attribute.KeyValue { return attribute.String("shoptoken.outcome", s) }
func reason(s string) attribute.KeyValue  { return attribute.String("shoptoken.reason", s) }
func errType(s string) attribute.KeyValue { return attribute.String("error.type", s) }

// youzanApp returns a Youzan emulator knowing shops and an App on it instrumented by r: its
// HTTP client, its rate-limit hook and its options.
func youzanApp(t *testing.T, r *rig, shopIDs []string, opts ...shops.Option) (*shoptokentest.Youzan, *youzan.App) {
	t.Helper()
	yz := shoptokentest.NewYouzan(shoptokentest.WithCredentials(clientID, clientSecret), shoptokentest.WithGrants(shopIDs...))
	t.Cleanup(yz.Close)
	cfg := youzan.Config{ClientID: clientID, ClientSecret: clientSecret, BaseURL: yz.URL}
	cfg.HTTPClient = r.tel.HTTPClient(nil)
	cfg.OnRateLimited = r.tel.RateLimited
	opts = append([]shops.Option{r.tel.AppOption(), shops.WithCacheOptions(shoptoken.WithMinInterval(0))}, opts...)
	a, err := youzan.NewApp(cfg, opts...)
	require.NoError(t, err)
	t.Cleanup(a.Close)
	return yz, a
}

func kdtIDs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = strconv.Itoa(91000000 + i)
	}
	return out
}

// TestAppOption_refreshes: three shops fetched under a caller's span, one refresh that fails with
// an HTML page and one whose grant was revoked. Counters, histogram and grants lost count each by
// platform, app, reason and outcome; each refresh has its span under the caller's, with the shop,
// and its HTTP spans under it; no metric attribute holds a shop, and nothing holds a secret.
func TestAppOption_refreshes(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ids := kdtIDs(3)
	yz, a := youzanApp(t, r, ids)
	ctx, caller := r.tracer.Start(context.Background(), "caller")
	toks := map[string]*shoptoken.Token{}
	for _, shop := range ids {
		tok, err := a.Token(ctx, shop)
		require.NoError(t, err)
		toks[shop] = tok
	}
	yz.FailNext(shoptokentest.FaultHTML200, 1)
	_, err := a.Invalidate(ctx, ids[1], toks[ids[1]])
	require.ErrorIs(t, err, shoptoken.ErrBadResponse)
	yz.Revoke(ids[2])
	_, err = a.Invalidate(ctx, ids[2], toks[ids[2]])
	require.ErrorIs(t, err, shoptoken.ErrReauthorize)
	caller.End()

	ms := r.collect(t)
	assert.EqualValues(t, 3, ms.count("shoptoken.refreshes", platform, app, reason("missing"), outcome("success")))
	assert.EqualValues(t, 1, ms.count("shoptoken.refreshes", platform, app, reason("rejected"), outcome("failure"), errType("bad_response")))
	assert.EqualValues(t, 1, ms.count("shoptoken.refreshes", platform, app, reason("rejected"), outcome("grant_lost"), errType("reauthorize")))
	assert.EqualValues(t, 5, ms.count("shoptoken.refreshes"))
	n, sum := ms.hist("shoptoken.refresh.duration", platform, app)
	assert.EqualValues(t, 5, n)
	assert.Greater(t, sum, 0.0)
	assert.Less(t, sum, 10.0)
	assert.EqualValues(t, 1, ms.count("shoptoken.grants.lost", platform, app, errType("reauthorize")))

	refreshes := r.spansNamed("shoptoken.refresh")
	require.Len(t, refreshes, 5)
	byShop := map[string]int{}
	failed := 0
	for _, s := range refreshes {
		assert.Equal(t, caller.SpanContext().SpanID(), s.Parent().SpanID(), "a child of the caller's span")
		assert.Equal(t, trace.SpanKindInternal, s.SpanKind())
		shop, ok := attrOf(s, "shoptoken.shop")
		require.True(t, ok)
		byShop[shop.AsString()]++
		v, _ := attrOf(s, "shoptoken.platform")
		assert.Equal(t, "youzan", v.AsString())
		if s.Status().Code == codes.Error {
			failed++
			et, ok := attrOf(s, "error.type")
			require.True(t, ok)
			assert.Contains(t, []string{"bad_response", "reauthorize"}, et.AsString())
			assert.Contains(t, s.Status().Description, et.AsString())
		}
	}
	assert.Equal(t, map[string]int{ids[0]: 1, ids[1]: 2, ids[2]: 2}, byShop)
	assert.Equal(t, 2, failed)

	// Every HTTP request is a client span under a refresh span.
	posts := r.spansNamed("POST")
	require.GreaterOrEqual(t, len(posts), 5)
	ids5 := map[trace.SpanID]bool{}
	for _, s := range refreshes {
		ids5[s.SpanContext().SpanID()] = true
	}
	for _, s := range posts {
		assert.True(t, ids5[s.Parent().SpanID()], "an HTTP span's parent is a refresh span")
		assert.Equal(t, trace.SpanKindClient, s.SpanKind())
		u, _ := attrOf(s, "url.full")
		assert.Equal(t, yz.URL+"/auth/token", u.AsString())
		code, _ := attrOf(s, "http.response.status_code")
		assert.EqualValues(t, 200, code.AsInt64())
	}

	var secrets []string
	for _, tok := range toks {
		secrets = append(secrets, tok.AccessToken, tok.RefreshToken)
	}
	secrets = append(secrets, clientSecret)
	noShopOrSecret(t, ms, ids, secrets)
	testkit.NoSecret(t, "spans", secrets, spanTexts(r.spans.Ended())...)
}

// TestAppOption_keeperSweeps: a sweep of an App records its due shops and what it did with them
// by outcome; an App without a due index records nothing.
func TestAppOption_keeperSweeps(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	clk := shoptokentest.NewClock(time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC))
	var calls atomic.Int64
	a, err := shops.New(shops.Platform{Name: "veapi", App: "acct", Clock: clk,
		Refresher: func(shop string) (shoptoken.Refresher, error) {
			return shoptoken.RefresherFunc(func(context.Context, *shoptoken.Token, shoptoken.Reason) (*shoptoken.Token, error) {
				if shop == "gone" && calls.Add(1) > 1 {
					return nil, &shoptoken.Error{Platform: "veapi", Kind: shoptoken.ErrReauthorize, Message: "grant revoked"}
				}
				return &shoptoken.Token{AccessToken: "veapi-access-" + shop + "-0123456789", Expiry: clk.Now().Add(2 * time.Hour)}, nil
			}), nil
		},
		Options: []shoptoken.Option{shoptoken.WithEarlyRefresh(time.Hour), shoptoken.WithJitter(0), shoptoken.WithMinInterval(0)},
	}, shops.WithStore(shoptoken.NewMemoryStore()), shops.WithRate(1e6), r.tel.AppOption())
	require.NoError(t, err)
	t.Cleanup(a.Close)
	ctx := context.Background()
	for _, shop := range []string{"s1", "s2", "gone"} {
		_, err := a.Token(ctx, shop)
		require.NoError(t, err)
	}
	res, err := a.Sweep(ctx)
	require.NoError(t, err)
	require.Zero(t, res.Due)
	clk.Advance(3 * time.Hour) // every token expired: due, and nothing refreshes ahead
	res, err = a.Sweep(ctx)
	require.NoError(t, err)
	require.Equal(t, 3, res.Due)

	vp, va := attribute.String("shoptoken.platform", "veapi"), attribute.String("shoptoken.app", "acct")
	ms := r.collect(t)
	assert.EqualValues(t, 2, ms.count("shoptoken.keeper.sweeps", vp, va, outcome("ok")))
	assert.EqualValues(t, 3, ms.count("shoptoken.keeper.due", vp, va))
	assert.EqualValues(t, res.Refreshed, ms.count("shoptoken.keeper.shops", vp, va, outcome("refreshed")))
	assert.EqualValues(t, res.NotDue, ms.count("shoptoken.keeper.shops", vp, va, outcome("not_due")))
	assert.EqualValues(t, 1, ms.count("shoptoken.keeper.shops", vp, va, outcome("reauthorize")))
	assert.EqualValues(t, 3, ms.count("shoptoken.keeper.shops", vp, va))
	assert.EqualValues(t, 1, ms.count("shoptoken.grants.lost", vp, va, errType("reauthorize")))

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = a.Sweep(cancelled)
	require.Error(t, err)
	ms = r.collect(t)
	assert.EqualValues(t, 1, ms.count("shoptoken.keeper.sweeps", vp, va, outcome("error"), errType("canceled")))
	noShopOrSecret(t, ms, []string{"s1", "s2", "gone"}, []string{"veapi-access-s1-0123456789"})
}

// TestRateLimited: Youzan 4101s go to the back-off histogram with the advised waits, and to the
// caller's span as events; the API call's HTTP span has the access token's value redacted.
func TestRateLimited(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ids := kdtIDs(1)
	yz, a := youzanApp(t, r, ids)
	ctx, caller := r.tracer.Start(context.Background(), "caller")
	tok, err := a.Token(ctx, ids[0])
	require.NoError(t, err)
	yz.FailAPIWith(4101, 1)
	err = a.Call(ctx, ids[0], "youzan.trade.get", "4.0.2", nil, nil)
	wait, ok := youzan.RetryAfter(err)
	require.True(t, ok, "%v", err)
	caller.End()

	ms := r.collect(t)
	n, sum := ms.hist("shoptoken.ratelimit.backoff", platform, app)
	assert.EqualValues(t, 1, n)
	assert.Equal(t, wait.Seconds(), sum)

	callers := r.spansNamed("caller")
	require.Len(t, callers, 1)
	events := callers[0].Events()
	require.Len(t, events, 1)
	assert.Equal(t, "shoptoken.rate_limited", events[0].Name)
	assert.Contains(t, events[0].Attributes, attribute.String("shoptoken.api", "youzan.trade.get"))
	assert.Contains(t, events[0].Attributes, attribute.Float64("shoptoken.retry_after", 3))

	var api sdktrace.ReadOnlySpan
	for _, s := range r.spansNamed("POST") {
		if s.Parent().SpanID() == caller.SpanContext().SpanID() {
			api = s
		}
	}
	require.NotNil(t, api, "the API call's HTTP span is the caller's child")
	u, _ := attrOf(api, "url.full")
	assert.Equal(t, yz.URL+"/api/youzan.trade.get/4.0.2?access_token=REDACTED", u.AsString())
	noShopOrSecret(t, ms, ids, []string{tok.AccessToken, tok.RefreshToken, clientSecret})
	testkit.NoSecret(t, "spans", []string{tok.AccessToken, tok.RefreshToken, clientSecret}, spanTexts(r.spans.Ended())...)
}

// failingStore fails every Load and Save while fail is set.
type failingStore struct {
	*shoptoken.MemoryStore
	fail atomic.Bool
}

var errStoreDown = errors.New("store down")

func (s *failingStore) Load(ctx context.Context, key string) (*shoptoken.Token, int64, error) {
	if s.fail.Load() {
		return nil, 0, errStoreDown
	}
	return s.MemoryStore.Load(ctx, key)
}

func (s *failingStore) Save(ctx context.Context, key string, tok *shoptoken.Token, prev int64) (int64, error) {
	if s.fail.Load() {
		return 0, errStoreDown
	}
	return s.MemoryStore.Save(ctx, key, tok, prev)
}

// TestCacheOption_storeAndSaveFailures: with its store down, a Cache's failed store round trips
// and its unsaved token are counted, by platform and app; a grant about to lapse is counted once.
func TestCacheOption_storeAndSaveFailures(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	st := &failingStore{MemoryStore: shoptoken.NewMemoryStore()}
	st.fail.Store(true)
	k := shoptoken.Key{Platform: "vipauth", App: "vip-app", Shop: "open-id-1"}
	c, err := shoptoken.NewCache(shoptoken.RefresherFunc(func(context.Context, *shoptoken.Token, shoptoken.Reason) (*shoptoken.Token, error) {
		return &shoptoken.Token{AccessToken: "vip-access-token-0123456789", Expiry: time.Now().Add(time.Hour)}, nil
	}), shoptoken.WithStore(st), shoptoken.WithKey(k), shoptoken.WithGrantWarning(2*time.Hour), shoptoken.WithBackoff(time.Hour, time.Hour),
		r.tel.CacheOption())
	require.NoError(t, err)
	t.Cleanup(c.Close)
	_, err = c.Token(context.Background())
	require.NoError(t, err)

	vp, va := attribute.String("shoptoken.platform", "vipauth"), attribute.String("shoptoken.app", "vip-app")
	require.Eventually(t, func() bool {
		ms := r.collect(t)
		return ms.count("shoptoken.save.failures", vp, va, errType("_OTHER")) >= 1 && ms.count("shoptoken.grants.expiring", vp, va) == 1
	}, 5*time.Second, 10*time.Millisecond)
	ms := r.collect(t)
	assert.GreaterOrEqual(t, ms.count("shoptoken.store.failures", vp, va, attribute.String("shoptoken.event", "store_failed"),
		errType("_OTHER")), int64(1), "a store's own error is of no shoptoken kind")
	assert.EqualValues(t, 1, ms.count("shoptoken.refreshes", vp, va, reason("missing"), outcome("success")))
	assert.EqualValues(t, 1, ms.count("shoptoken.grants.expiring", vp, va), "the grant (no refresh token) ends within the warning")
	require.Len(t, r.spansNamed("shoptoken.refresh"), 1)
	assert.False(t, r.spansNamed("shoptoken.refresh")[0].Parent().IsValid(), "no caller's span: a root")
	noShopOrSecret(t, ms, []string{k.Shop}, []string{"vip-access-token-0123456789"})
}

// TestObserve_gauges: the gauges read the tokens an App holds, per platform and app: how many,
// the least time to expiry and to a grant's end, and the grants ending within the window. A
// stopped Observe reports nothing.
func TestObserve_gauges(t *testing.T) {
	t.Parallel()
	r := newRig(t, otelshoptoken.WithGrantWindow(48*time.Hour))
	a, err := shops.New(shops.Platform{Name: "veapi", App: "acct",
		Refresher: func(string) (shoptoken.Refresher, error) {
			return shoptoken.RefresherFunc(func(context.Context, *shoptoken.Token, shoptoken.Reason) (*shoptoken.Token, error) {
				return nil, &shoptoken.Error{Kind: shoptoken.ErrUnavailable}
			}), nil
		},
		Options: []shoptoken.Option{shoptoken.WithEarlyRefresh(0)},
	}, r.tel.AppOption())
	require.NoError(t, err)
	t.Cleanup(a.Close)
	ctx := context.Background()
	now := time.Now()
	set := func(shop string, expiry, grantEnd time.Duration) {
		tok := &shoptoken.Token{AccessToken: "veapi-at-" + shop + "-0123456789", RefreshToken: "veapi-rt-" + shop + "-0123456789",
			Expiry: now.Add(expiry), RefreshExpiry: now.Add(grantEnd)}
		require.NoError(t, a.Set(ctx, shop, tok))
	}
	set("shop-a", 2*time.Hour, 30*24*time.Hour)
	set("shop-b", 30*time.Minute, 24*time.Hour) // the soonest expiry; its grant ends within 48 h
	set("shop-c", 5*time.Hour, 10*24*time.Hour)
	set("shop-d", 6*time.Hour, 36*time.Hour) // the soonest grant end
	stop := r.tel.Observe(a)

	vp, va := attribute.String("shoptoken.platform", "veapi"), attribute.String("shoptoken.app", "acct")
	ms := r.collect(t)
	assert.Equal(t, []int64{4}, gauge[int64](ms, "shoptoken.tokens", vp, va, attribute.String("shoptoken.state", "valid")))
	assert.Equal(t, []int64{0}, gauge[int64](ms, "shoptoken.tokens", vp, va, attribute.String("shoptoken.state", "expired")))
	exp := gauge[float64](ms, "shoptoken.token.time_to_expiry", vp, va)
	require.Len(t, exp, 1)
	assert.InDelta(t, (30 * time.Minute).Seconds(), exp[0], 60, "the least time to expiry, b's")
	end := gauge[float64](ms, "shoptoken.grant.time_to_end", vp, va)
	require.Len(t, end, 1)
	assert.InDelta(t, (24 * time.Hour).Seconds(), end[0], 60, "the least time to a grant's end, b's")
	assert.Equal(t, []int64{2}, gauge[int64](ms, "shoptoken.grants.ending", vp, va), "b and d end within 48 h")
	noShopOrSecret(t, ms, []string{"shop-a", "shop-b", "shop-c", "shop-d"}, []string{"veapi-at-shop-a-0123456789", "veapi-rt-shop-d-0123456789"})

	stop()
	stop()
	ms = r.collect(t)
	assert.Empty(t, gauge[int64](ms, "shoptoken.tokens"), "nothing observed")
}

func TestNew_rejectsNonsense(t *testing.T) {
	_, err := otelshoptoken.New(otelshoptoken.WithGrantWindow(0))
	require.ErrorIs(t, err, shoptoken.ErrBadRequest)
	assert.Equal(t, "otelshoptoken: WithGrantWindow: must be positive, got 0s", err.Error())
}

// TestTelemetry_concurrent: 16 goroutines fetch the tokens of 200 shops of two Apps while
// another collects the metrics and the Apps are observed and unobserved: one refresh counted and
// one span per shop, and the gauges see every token held.
func TestTelemetry_concurrent(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	newApp := func(name string) *shops.App {
		a, err := shops.New(shops.Platform{Name: name, App: "app",
			Refresher: func(string) (shoptoken.Refresher, error) { return longLived, nil }}, r.tel.AppOption())
		require.NoError(t, err)
		t.Cleanup(a.Close)
		return a
	}
	apps := []*shops.App{newApp("p1"), newApp("p2")}
	done := make(chan struct{})
	collected := make(chan int)
	go func() {
		n := 0
		for {
			select {
			case <-done:
				collected <- n
				return
			default:
			}
			stop := r.tel.Observe(apps[n%2])
			r.collect(t)
			stop()
			n++
		}
	}()
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				_, err := apps[(g+i)%2].Token(context.Background(), strconv.Itoa(i))
				assert.NoError(t, err)
			}
		}()
	}
	wg.Wait()
	close(done)
	assert.Positive(t, <-collected)

	stop1, stop2 := r.tel.Observe(apps[0]), r.tel.Observe(apps[1])
	defer stop1()
	defer stop2()
	ms := r.collect(t)
	for _, p := range []string{"p1", "p2"} {
		attrs := []attribute.KeyValue{attribute.String("shoptoken.platform", p), attribute.String("shoptoken.app", "app")}
		assert.EqualValues(t, 100, ms.count("shoptoken.refreshes", append(attrs, outcome("success"))...))
		assert.Equal(t, []int64{100}, gauge[int64](ms, "shoptoken.tokens", append(attrs, attribute.String("shoptoken.state", "valid"))...))
	}
	assert.Len(t, r.spansNamed("shoptoken.refresh"), 200)
}
