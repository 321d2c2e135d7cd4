package shoptoken

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shoptoken/shoptoken/internal/fakeclock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)

// upstream is a counted fake platform: each call issues "tok-N" valid for ttl.
type upstream struct {
	calls   atomic.Int64
	reasons sync.Map // Reason -> *atomic.Int64
	now     func() time.Time
	ttl     time.Duration
	delay   time.Duration
	gate    chan struct{} // when non-nil, each call waits for a value
	err     atomic.Pointer[error]
	lastCur atomic.Pointer[Token]
}

func newUpstream(now func() time.Time, ttl time.Duration) *upstream {
	return &upstream{now: now, ttl: ttl}
}

func (u *upstream) fail(err error) {
	if err == nil {
		u.err.Store(nil)
		return
	}
	u.err.Store(&err)
}

func (u *upstream) count(why Reason) int64 {
	v, ok := u.reasons.Load(why)
	if !ok {
		return 0
	}
	return v.(*atomic.Int64).Load()
}

func (u *upstream) Refresh(ctx context.Context, cur *Token, why Reason) (*Token, error) {
	n := u.calls.Add(1)
	v, _ := u.reasons.LoadOrStore(why, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
	if cur != nil {
		u.lastCur.Store(cur)
	}
	if u.gate != nil {
		select {
		case <-u.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if u.delay > 0 {
		select {
		case <-time.After(u.delay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if e := u.err.Load(); e != nil {
		return nil, *e
	}
	now := u.now()
	return &Token{AccessToken: "tok-" + strconv.FormatInt(n, 10), RefreshToken: "rt-" + strconv.FormatInt(n, 10),
		Expiry: now.Add(u.ttl), IssuedAt: now}, nil
}

var errDown = &Error{Platform: "test", Op: "refresh", Kind: ErrUnavailable, Message: "down"}

func TestCache_Token_warmReadAllocatesNothing(t *testing.T) {
	c := newTestCache(t, newUpstream(time.Now, time.Hour), WithToken(&Token{AccessToken: "a", Expiry: time.Now().Add(time.Hour)}))
	ctx := context.Background()
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := c.Token(ctx); err != nil {
			t.Fatal(err)
		}
	})
	assert.Equal(t, 0.0, allocs)
}

func TestCache_Token_stampedeMakesOneCall(t *testing.T) {
	up := newUpstream(time.Now, time.Hour)
	up.delay = 50 * time.Millisecond
	c := newTestCache(t, up, WithToken(&Token{AccessToken: "old", Expiry: time.Now().Add(-time.Minute)}))
	var wg sync.WaitGroup
	var errs atomic.Int64
	got := make([]*Token, 1000)
	for i := range 1000 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok, err := c.Token(context.Background())
			if err != nil {
				errs.Add(1)
			}
			got[i] = tok
		}()
	}
	wg.Wait()
	assert.Equal(t, int64(1), up.calls.Load())
	assert.Equal(t, int64(1), up.count(ReasonExpired))
	assert.Zero(t, errs.Load())
	for _, tok := range got {
		require.NotNil(t, tok)
		assert.Equal(t, "tok-1", tok.AccessToken)
	}
}

func TestCache_Token_coldStartIsReasonMissing(t *testing.T) {
	up := newUpstream(time.Now, time.Hour)
	c := newTestCache(t, up)
	tok, err := c.Token(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "tok-1", tok.AccessToken)
	assert.Equal(t, int64(1), up.count(ReasonMissing))
}

func TestCache_Invalidate_concurrentSameTokenMakesOneCall(t *testing.T) {
	up := newUpstream(time.Now, time.Hour)
	up.delay = 20 * time.Millisecond
	stale := &Token{AccessToken: "stale", Expiry: time.Now().Add(time.Hour)}
	c := newTestCache(t, up, WithToken(stale))
	held, err := c.Token(context.Background())
	require.NoError(t, err)
	var wg sync.WaitGroup
	var errs atomic.Int64
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok, err := c.Invalidate(context.Background(), held)
			if err != nil || tok.AccessToken != "tok-1" {
				errs.Add(1)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int64(1), up.calls.Load())
	assert.Equal(t, int64(1), up.count(ReasonRejected))
	assert.Zero(t, errs.Load())
	// A late report of the same stale token costs nothing.
	tok, err := c.Invalidate(context.Background(), held)
	require.NoError(t, err)
	assert.Equal(t, "tok-1", tok.AccessToken)
	assert.Equal(t, int64(1), up.calls.Load())
	assert.Equal(t, "stale", up.lastCur.Load().AccessToken, "the refresher is told which token it replaces")
}

func TestCache_Token_callerDeadlineShorterThanRefresh(t *testing.T) {
	up := newUpstream(time.Now, time.Hour)
	up.delay = 2 * time.Second // far beyond the callers' 30 ms, so a loaded machine cannot blur the two
	var filled atomic.Int64
	c := newTestCache(t, up, WithEvents(func(e Event) {
		if e.Kind == EventRefreshed {
			filled.Add(1)
		}
	}))
	var wg sync.WaitGroup
	var timeouts atomic.Int64
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, err := c.Token(ctx)
			if errors.Is(err, context.DeadlineExceeded) && errors.Is(err, ErrUnavailable) && time.Since(start) < time.Second {
				timeouts.Add(1)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int64(50), timeouts.Load(), "every caller returns at its own deadline")
	assert.Zero(t, filled.Load(), "the callers were back before the refresh ended")
	require.Eventually(t, func() bool { return filled.Load() == 1 }, 10*time.Second, 5*time.Millisecond)
	tok, err := c.Token(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "tok-1", tok.AccessToken, "the detached refresh filled the cache")
	assert.Equal(t, int64(1), up.calls.Load())
}

func TestCache_Token_failureWhileValidIsInvisible(t *testing.T) {
	clk := fakeclock.New(t0)
	up := newUpstream(clk.Now, time.Hour)
	up.fail(errDown)
	c := newTestCache(t, up, WithClock(clk), WithEarlyRefresh(10*time.Minute), WithJitter(0),
		WithToken(&Token{AccessToken: "a", Expiry: t0.Add(time.Hour)}))
	clk.Advance(51 * time.Minute) // inside the early window: a background refresh starts and fails
	require.Eventually(t, func() bool { return up.calls.Load() >= 1 }, time.Second, time.Millisecond)
	var errs atomic.Int64
	var wg sync.WaitGroup
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok, err := c.Token(context.Background())
			if err != nil || tok.AccessToken != "a" {
				errs.Add(1)
			}
		}()
	}
	wg.Wait()
	assert.Zero(t, errs.Load())
	// Retries back off: a few minutes of clock make a handful of calls, not one per caller.
	for range 30 {
		clk.Advance(10 * time.Second)
		time.Sleep(time.Millisecond)
	}
	n := up.calls.Load()
	assert.GreaterOrEqual(t, n, int64(3))
	assert.LessOrEqual(t, n, int64(10))
	// Once the upstream recovers, the next retry replaces the token before it expires.
	up.fail(nil)
	clk.Advance(5 * time.Minute)
	require.Eventually(t, func() bool { return c.Current().AccessToken != "a" }, time.Second, time.Millisecond)
}

func TestCache_Token_expiredWithFailedRefreshReturnsCause(t *testing.T) {
	clk := fakeclock.New(t0)
	up := newUpstream(clk.Now, time.Hour)
	up.fail(errDown)
	c := newTestCache(t, up, WithClock(clk), WithToken(&Token{AccessToken: "a", Expiry: t0.Add(-time.Second)}))
	_, err := c.Token(context.Background())
	require.ErrorIs(t, err, ErrUnavailable)
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, "test", e.Platform)
	// While backing off, callers get the error at once, with no platform call.
	for range 100 {
		_, err = c.Token(context.Background())
		require.ErrorIs(t, err, ErrUnavailable)
	}
	assert.Equal(t, int64(1), up.calls.Load())
	up.fail(nil)
	clk.Advance(DefaultBackoffMin + time.Millisecond)
	tok, err := c.Token(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "tok-2", tok.AccessToken)
}

func TestCache_Token_permanentErrorIsNotRetriedInALoop(t *testing.T) {
	for _, kind := range []error{ErrReauthorize, ErrCredentials} {
		t.Run(kind.Error(), func(t *testing.T) {
			clk := fakeclock.New(t0)
			up := newUpstream(clk.Now, time.Hour)
			up.fail(&Error{Platform: "test", Kind: kind, Code: "1004"})
			var lost atomic.Int64
			c := newTestCache(t, up, WithClock(clk), WithEarlyRefresh(10*time.Minute), WithJitter(0),
				WithToken(&Token{AccessToken: "a", Expiry: t0.Add(time.Hour)}),
				WithEvents(func(e Event) {
					if e.Kind == EventGrantLost {
						lost.Add(1)
					}
				}))
			clk.Advance(51 * time.Minute)
			require.Eventually(t, func() bool { return lost.Load() == 1 }, time.Second, time.Millisecond)
			for range 10 {
				clk.Advance(time.Minute) // until past expiry: no retries in the background
			}
			assert.Equal(t, int64(1), up.calls.Load())
			_, err := c.Token(context.Background()) // expired now: one attempt, permanent error
			require.ErrorIs(t, err, kind)
			for range 50 {
				_, err = c.Token(context.Background())
				require.ErrorIs(t, err, kind)
			}
			assert.Equal(t, int64(2), up.calls.Load())
		})
	}
}

func TestCache_Token_refreshAheadNeverBlocksCallers(t *testing.T) {
	clk := fakeclock.New(t0)
	up := newUpstream(clk.Now, time.Hour)
	up.gate = make(chan struct{})
	c := newTestCache(t, up, WithClock(clk), WithEarlyRefresh(10*time.Minute), WithJitter(0),
		WithToken(&Token{AccessToken: "a", Expiry: t0.Add(time.Hour), IssuedAt: t0}))
	clk.Advance(50*time.Minute + time.Second)
	require.Eventually(t, func() bool { return up.calls.Load() == 1 }, time.Second, time.Millisecond)
	for range 1000 { // the refresh is stuck at the gate; callers still get the valid token
		tok, err := c.Token(context.Background())
		require.NoError(t, err)
		require.Equal(t, "a", tok.AccessToken)
	}
	assert.Equal(t, int64(1), up.calls.Load())
	assert.Equal(t, int64(1), up.count(ReasonEarly))
	up.gate <- struct{}{}
	require.Eventually(t, func() bool { return c.Current().AccessToken == "tok-1" }, time.Second, time.Millisecond)
}

func TestCache_Token_earlyRefreshJitterSpreadsKeys(t *testing.T) {
	clk := fakeclock.New(t0)
	var at []time.Time
	for i := range 200 {
		c := newTestCache(t, newUpstream(clk.Now, time.Hour), WithClock(clk), WithEarlyRefresh(time.Hour))
		tok := &Token{AccessToken: fmt.Sprintf("token-%d", i), Expiry: t0.Add(30 * 24 * time.Hour)}
		at = append(at, c.refreshAt(tok, t0))
	}
	lo, hi := at[0], at[0]
	for _, a := range at {
		if a.Before(lo) {
			lo = a
		}
		if a.After(hi) {
			hi = a
		}
		d := t0.Add(30*24*time.Hour - time.Hour).Sub(a)
		assert.LessOrEqual(t, d.Abs(), 6*time.Minute+time.Second, "within ±10%% of the window")
	}
	assert.Greater(t, hi.Sub(lo), 8*time.Minute, "refresh times are spread")
}

func TestCache_Token_shortLivedTokensDoNotLoop(t *testing.T) {
	clk := fakeclock.New(t0)
	up := newUpstream(clk.Now, 2*time.Minute) // shorter than the early window
	c := newTestCache(t, up, WithClock(clk), WithEarlyRefresh(10*time.Minute), WithMinInterval(0))
	_, err := c.Token(context.Background())
	require.NoError(t, err)
	for range 10 {
		clk.Advance(10 * time.Second)
		time.Sleep(time.Millisecond)
	}
	// 100 s of clock with 2-minute tokens refreshed at half-life: at most 2 more calls.
	assert.LessOrEqual(t, up.calls.Load(), int64(3))
}

func TestCache_Token_minIntervalSpacesCalls(t *testing.T) {
	up := newUpstream(time.Now, time.Hour)
	c := newTestCache(t, up, WithMinInterval(time.Hour), WithRefreshTimeout(time.Second))
	tok, err := c.Token(context.Background())
	require.NoError(t, err)
	for range 20 {
		_, err = c.Invalidate(context.Background(), tok)
		require.ErrorIs(t, err, ErrRateLimited)
	}
	assert.Equal(t, int64(1), up.calls.Load())
}

func TestCache_Invalidate_olderTokenReturnsCurrentWithoutCall(t *testing.T) {
	up := newUpstream(time.Now, time.Hour)
	c := newTestCache(t, up, WithMinInterval(0))
	first, err := c.Token(context.Background())
	require.NoError(t, err)
	second, err := c.Invalidate(context.Background(), first)
	require.NoError(t, err)
	again, err := c.Invalidate(context.Background(), first)
	require.NoError(t, err)
	assert.Equal(t, second, again)
	assert.Equal(t, int64(2), up.calls.Load())
}

func TestCache_Token_grantWarningFiresOnce(t *testing.T) {
	clk := fakeclock.New(t0)
	var warned atomic.Int64
	c := newTestCache(t, RefresherFunc(func(context.Context, *Token, Reason) (*Token, error) {
		return nil, &Error{Kind: ErrReauthorize}
	}), WithClock(clk), WithEarlyRefresh(0), WithGrantWarning(72*time.Hour),
		WithToken(&Token{AccessToken: "a", Expiry: t0.Add(30 * 24 * time.Hour)}),
		WithEvents(func(e Event) {
			if e.Kind == EventGrantExpiring {
				warned.Add(1)
			}
		}))
	clk.Advance(26 * 24 * time.Hour)
	assert.Zero(t, warned.Load())
	clk.Advance(24*time.Hour + time.Minute)
	assert.Equal(t, int64(1), warned.Load())
	clk.Advance(3 * 24 * time.Hour) // past expiry
	assert.Equal(t, int64(1), warned.Load())
	_, err := c.Token(context.Background())
	require.ErrorIs(t, err, ErrReauthorize)
}

func TestCache_Close(t *testing.T) {
	c := newTestCache(t, newUpstream(time.Now, time.Hour), WithToken(&Token{AccessToken: "a", Expiry: time.Now().Add(time.Hour)}))
	c.Close()
	_, err := c.Token(context.Background())
	require.ErrorIs(t, err, ErrClosed)
}

func TestCache_Set_replacesAndClearsFailure(t *testing.T) {
	up := newUpstream(time.Now, time.Hour)
	up.fail(&Error{Kind: ErrReauthorize})
	st := NewMemoryStore()
	c := newTestCache(t, up, storeAt(st, "k"))
	_, err := c.Token(context.Background())
	require.ErrorIs(t, err, ErrReauthorize)
	require.NoError(t, c.Set(context.Background(), &Token{AccessToken: "new", Expiry: time.Now().Add(time.Hour)}))
	tok, err := c.Token(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "new", tok.AccessToken)
	stored, _, err := st.Load(context.Background(), sk("k"))
	require.NoError(t, err)
	assert.Equal(t, "new", stored.AccessToken)
}

func TestCache_Token_refreshAheadAfterColdStart(t *testing.T) {
	clk := fakeclock.New(t0)
	up := newUpstream(clk.Now, time.Hour)
	c := newTestCache(t, up, WithClock(clk), WithEarlyRefresh(10*time.Minute), WithJitter(0))
	tok, err := c.Token(context.Background())
	require.NoError(t, err)
	require.Equal(t, "tok-1", tok.AccessToken)
	clk.Advance(49 * time.Minute)
	assert.Equal(t, int64(1), up.calls.Load())
	clk.Advance(2 * time.Minute) // inside the early window of a token the cache fetched itself
	require.Eventually(t, func() bool { return c.Current().AccessToken == "tok-2" }, time.Second, time.Millisecond)
	assert.Equal(t, int64(1), up.count(ReasonEarly))
	for range 20 { // and the next one is planned too
		clk.Advance(3 * time.Minute)
		time.Sleep(time.Millisecond)
	}
	require.Eventually(t, func() bool { return up.count(ReasonEarly) == 2 }, time.Second, time.Millisecond)
	assert.Zero(t, up.count(ReasonExpired), "callers never hit an expired token")
}

func TestCache_Token_fixedRefreshExpiryDoesNotBunchRotations(t *testing.T) {
	clk := fakeclock.New(t0)
	grantEnd := t0.Add(180 * 24 * time.Hour) // veapi: refreshing never moves refresh_expires_time
	var calls atomic.Int64
	var warnings atomic.Int64
	c := newTestCache(t, RefresherFunc(func(context.Context, *Token, Reason) (*Token, error) {
		n := calls.Add(1)
		now := clk.Now()
		return &Token{AccessToken: fmt.Sprintf("at-%d", n), RefreshToken: fmt.Sprintf("rt-%d", n), IssuedAt: now,
			Expiry: now.Add(90 * 24 * time.Hour), RefreshExpiry: grantEnd}, nil
	}), WithClock(clk), WithEarlyRefresh(7*24*time.Hour), WithJitter(0), WithMinInterval(0), WithGrantWarning(5*24*time.Hour),
		WithToken(&Token{AccessToken: "at-0", RefreshToken: "rt-0", IssuedAt: t0, Expiry: t0.Add(90 * 24 * time.Hour), RefreshExpiry: grantEnd}),
		WithEvents(func(e Event) {
			if e.Kind == EventGrantExpiring {
				warnings.Add(1)
			}
		}))
	for range 179 {
		clk.Advance(24 * time.Hour)
		time.Sleep(200 * time.Microsecond)
	}
	require.Eventually(t, func() bool { return warnings.Load() >= 1 }, time.Second, time.Millisecond)
	// Day 173 (7 days before the grant end) and day ~83 (7 days before the first access token's
	// expiry): a couple of rotations, not one every few hours near the end.
	assert.LessOrEqual(t, calls.Load(), int64(4))
	assert.Equal(t, int64(1), warnings.Load(), "warned once per grant, not once per rotation")
	_ = c
}

func TestCache_Token_scopeListsAreShared(t *testing.T) {
	mk := func() *Cache {
		return newTestCache(t, newUpstream(time.Now, time.Hour), WithToken(&Token{AccessToken: "a", Scope: []string{"trade", "item", "shop"}}))
	}
	a, b := mk(), mk()
	ta, _ := a.Token(context.Background())
	tb, _ := b.Token(context.Background())
	require.Equal(t, []string{"trade", "item", "shop"}, ta.Scope)
	assert.Same(t, &ta.Scope[0], &tb.Scope[0], "100 000 shops of one app share one scope list")

	// Finding the list costs no allocation (it used to join the scopes into a string each time),
	// and lists that differ only in how their words split are not mixed up.
	other := []string{"trade", "item", "shop"}
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = internScope(other) }))
	assert.Same(t, &ta.Scope[0], &internScope(other)[0])
	split := []string{"tradeitem", "shop"}
	assert.Equal(t, []string{"tradeitem", "shop"}, internScope(split))
	joined := []string{"trade item shop"}
	assert.Equal(t, []string{"trade item shop"}, internScope(joined))
}

// newTestCache is NewCache for tests: a construction error fails the test.
func newTestCache(tb testing.TB, r Refresher, opts ...Option) *Cache {
	tb.Helper()
	c, err := NewCache(r, opts...)
	if err != nil {
		tb.Fatalf("NewCache: %v", err)
	}
	return c
}

// storeAt gives a Cache the store s and the test Key whose shop is shop.
func storeAt(s Store, shop string) Option {
	return func(c *config) {
		WithStore(s)(c)
		WithKey(Key{Platform: "test", App: "app", Shop: shop})(c)
	}
}

// sk returns the store key of storeAt's Key for shop.
func sk(shop string) string { return Key{Platform: "test", App: "app", Shop: shop}.String() }
