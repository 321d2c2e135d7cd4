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

func TestRegistry_Cache_oneCachePerKeyUnderRace(t *testing.T) {
	var made atomic.Int64
	st := NewMemoryStore()
	up := newUpstream(time.Now, time.Hour)
	reg := NewRegistry(func(key string, opts ...Option) (*Cache, error) {
		made.Add(1)
		return newTestCache(t, up, append([]Option{WithStore(st, key)}, opts...)...), nil
	})
	defer reg.Close()
	var wg sync.WaitGroup
	var errs atomic.Int64
	for i := range 400 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprintf("shop-%d", i%4)
			if _, err := reg.Token(context.Background(), key); err != nil {
				errs.Add(1)
			}
		}()
	}
	wg.Wait()
	assert.Zero(t, errs.Load())
	assert.Equal(t, 4, reg.Len())
	assert.Equal(t, int64(4), up.calls.Load(), "one platform call per shop")
}

func TestRegistry_Cache_evictsLeastRecentlyUsedAndReloadsFromStore(t *testing.T) {
	st := NewMemoryStore()
	up := newUpstream(time.Now, time.Hour)
	reg := NewRegistry(func(key string, opts ...Option) (*Cache, error) {
		return newTestCache(t, up, append([]Option{WithStore(st, key)}, opts...)...), nil
	}, WithMaxCaches(10))
	defer reg.Close()
	ctx := context.Background()
	for i := range 25 {
		_, err := reg.Token(ctx, fmt.Sprintf("shop-%d", i))
		require.NoError(t, err)
	}
	assert.Equal(t, 10, reg.Len())
	assert.Equal(t, int64(25), up.calls.Load())
	// An evicted shop comes back from the store, not from the platform.
	tok, err := reg.Token(ctx, "shop-0")
	require.NoError(t, err)
	assert.Equal(t, "tok-1", tok.AccessToken)
	assert.Equal(t, int64(25), up.calls.Load())
}

func TestKeeper_Sweep_refreshesIdleGrantsBeforeTheyLapse(t *testing.T) {
	clk := fakeclock.New(t0)
	st := NewMemoryStore()
	var calls atomic.Int64
	// A veapi-like platform: access token 90 days, refresh token 30 days, rotating.
	platform := RefresherFunc(func(_ context.Context, cur *Token, _ Reason) (*Token, error) {
		n := calls.Add(1)
		now := clk.Now()
		return &Token{AccessToken: fmt.Sprintf("at-%d", n), RefreshToken: fmt.Sprintf("rt-%d", n),
			Expiry: now.Add(90 * 24 * time.Hour), RefreshExpiry: now.Add(30 * 24 * time.Hour), IssuedAt: now}, nil
	})
	newReg := func() *Registry {
		return NewRegistry(func(key string, opts ...Option) (*Cache, error) {
			return newTestCache(t, platform, append([]Option{WithStore(st, key), WithClock(clk), WithEarlyRefresh(7 * 24 * time.Hour),
				WithJitter(0)}, opts...)...), nil
		}, WithDueIndex(st), WithMaxCaches(5))
	}
	reg := newReg()
	ctx := context.Background()
	for i := range 50 { // 50 shops authorized today, then nobody asks for their tokens
		_, err := reg.Token(ctx, fmt.Sprintf("shop-%d", i))
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool {
		due, _ := st.Due(ctx, t0.Add(365*24*time.Hour), 0)
		return len(due) == 50
	}, time.Second, time.Millisecond, "every new token is scheduled")
	reg.Close()
	assert.Equal(t, int64(50), calls.Load())

	reg = newReg() // a later process; its Registry holds nothing
	defer reg.Close()
	var reauth []string
	k := NewKeeper(reg, st, WithKeeperClock(clk.Now), WithRate(1e6), WithOnReauthorize(func(key string, _ error) { reauth = append(reauth, key) }))
	res, err := k.Sweep(ctx)
	require.NoError(t, err)
	assert.Zero(t, res.Due, "nothing is due on day 0")

	clk.Advance(24 * 24 * time.Hour) // day 24: refresh tokens lapse on day 30; planned refresh from day 23
	res, err = k.Sweep(ctx)
	require.NoError(t, err)
	assert.Equal(t, 50, res.Due)
	assert.Equal(t, 50, res.Refreshed)
	assert.Empty(t, reauth)
	assert.Equal(t, int64(100), calls.Load(), "one platform call per shop")
	for i := range 50 {
		tok, _, err := st.Load(ctx, fmt.Sprintf("shop-%d", i))
		require.NoError(t, err)
		assert.True(t, tok.RefreshExpiry.After(clk.Now().Add(29*24*time.Hour)), "the chain is renewed")
	}
	// A second sweep right away finds nothing due: the sweep cost follows what is due.
	res, err = k.Sweep(ctx)
	require.NoError(t, err)
	assert.Zero(t, res.Due)
}

func TestKeeper_Sweep_reportsGrantsThatNeedAPerson(t *testing.T) {
	clk := fakeclock.New(t0)
	st := NewMemoryStore()
	ctx := context.Background()
	// A vip.com-like grant: 30 days, cannot be refreshed; warn 3 days ahead.
	reg := NewRegistry(func(key string, opts ...Option) (*Cache, error) {
		return newTestCache(t, RefresherFunc(func(context.Context, *Token, Reason) (*Token, error) {
			return nil, &Error{Platform: "vipauth", Kind: ErrReauthorize, Message: "cannot refresh"}
		}), append([]Option{WithStore(st, key), WithClock(clk), WithEarlyRefresh(0), WithGrantWarning(72 * time.Hour)}, opts...)...), nil
	}, WithDueIndex(st))
	defer reg.Close()
	c, err := reg.Cache("user-1")
	require.NoError(t, err)
	require.NoError(t, c.Set(ctx, &Token{AccessToken: "vip-token-1", Expiry: t0.Add(30 * 24 * time.Hour)}))
	require.Eventually(t, func() bool {
		due, _ := st.Due(ctx, t0.Add(28*24*time.Hour), 0)
		return len(due) == 1
	}, time.Second, time.Millisecond)
	var reported []string
	k := NewKeeper(reg, st, WithKeeperClock(clk.Now), WithOnReauthorize(func(key string, _ error) { reported = append(reported, key) }))
	clk.Advance(27*24*time.Hour + time.Hour)
	res, err := k.Sweep(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"user-1"}, res.Reauthorize)
	assert.Equal(t, []string{"user-1"}, reported)
	tok, err := c.Token(ctx)
	require.NoError(t, err, "the token still works until it expires")
	assert.Equal(t, "vip-token-1", tok.AccessToken)
	res, _ = k.Sweep(ctx)
	assert.Zero(t, res.Due, "reported once, then unscheduled")
}

// failingSaves is a Store whose Saves fail while down is set, so a Cache on it keeps its new
// token Pending.
type failingSaves struct {
	Store
	down atomic.Bool
}

func (f *failingSaves) Save(ctx context.Context, key string, tok *Token, prev int64) (int64, error) {
	if f.down.Load() {
		return 0, errors.New("store down")
	}
	return f.Store.Save(ctx, key, tok, prev)
}

func TestRegistry_Cache_neverEvictsTheCacheItReturns(t *testing.T) {
	st := NewMemoryStore()
	flaky := &failingSaves{Store: st}
	flaky.down.Store(true)
	defer flaky.down.Store(false) // lets the pending Cache's background save finish
	up := newUpstream(time.Now, time.Hour)
	reg := NewRegistry(func(key string, opts ...Option) (*Cache, error) {
		var s Store = st
		if key == "pending" {
			s = flaky
		}
		return newTestCache(t, up, append([]Option{WithStore(s, key)}, opts...)...), nil
	}, WithMaxCaches(1))
	defer reg.Close()
	ctx := context.Background()
	_, err := reg.Token(ctx, "pending")
	require.NoError(t, err)
	c, err := reg.Cache("pending")
	require.NoError(t, err)
	require.True(t, c.Pending(), "the store refused the token")

	// The only eviction candidate besides the new Cache is Pending: the bound is exceeded rather
	// than the new Cache closed under its caller.
	tok, err := reg.Token(ctx, "fresh")
	require.NoError(t, err, "an open Registry returned a closed Cache")
	assert.Equal(t, "tok-2", tok.AccessToken)
	assert.Equal(t, int64(2), up.calls.Load())
	assert.Equal(t, 2, reg.Len())
}

// TestKeeper_Sweep_spacesKeysByRate: WithRate spaces the keys of one sweep by 1/rate, and a sweep
// stops when its ctx ends during a pause.
func TestKeeper_Sweep_spacesKeysByRate(t *testing.T) {
	st := NewMemoryStore()
	up := newUpstream(time.Now, time.Hour)
	reg := NewRegistry(func(key string, opts ...Option) (*Cache, error) {
		return newTestCache(t, up, append([]Option{WithStore(st, key)}, opts...)...), nil
	})
	defer reg.Close()
	ctx := context.Background()
	for _, key := range []string{"a", "b", "c"} {
		require.NoError(t, st.Schedule(ctx, key, time.Now().Add(-time.Minute)))
	}
	k := NewKeeper(reg, st, WithRate(4))
	var pauses []time.Duration
	k.sleep = func(ctx context.Context, d time.Duration) error {
		pauses = append(pauses, d)
		return ctx.Err()
	}
	res, err := k.Sweep(ctx)
	require.NoError(t, err)
	assert.Equal(t, 3, res.Due)
	assert.Equal(t, []time.Duration{250 * time.Millisecond, 250 * time.Millisecond}, pauses,
		"one pause between each two keys, none before the first")
	assert.Equal(t, int64(3), up.calls.Load())

	// A sweep whose ctx ends during a pause returns at once with ctx's error.
	for _, key := range []string{"a", "b", "c"} {
		require.NoError(t, st.Schedule(ctx, key, time.Now().Add(-time.Minute)))
	}
	cctx, cancel := context.WithCancel(ctx)
	k.sleep = func(ctx context.Context, d time.Duration) error {
		cancel()
		return ctx.Err()
	}
	res, err = k.Sweep(cctx)
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, 3, res.Due)
	assert.Equal(t, 1, res.Refreshed+res.NotDue+res.Failed, "only the first key was looked at")
}

// TestKeeper_Sweep_spreadsRetries: keys whose refresh failed for a passing reason come back
// between one and one and a half retry periods later, not all at the same instant.
func TestKeeper_Sweep_spreadsRetries(t *testing.T) {
	st := NewMemoryStore()
	down := RefresherFunc(func(context.Context, *Token, Reason) (*Token, error) {
		return nil, &Error{Op: "refresh", Kind: ErrUnavailable}
	})
	reg := NewRegistry(func(key string, opts ...Option) (*Cache, error) {
		return newTestCache(t, down, append([]Option{WithStore(st, key), WithMinInterval(0)}, opts...)...), nil
	})
	defer reg.Close()
	ctx := context.Background()
	now := time.Now()
	const n = 40
	for i := range n {
		require.NoError(t, st.Schedule(ctx, "k"+strconv.Itoa(i), now.Add(-time.Minute)))
	}
	k := NewKeeper(reg, st, WithRetryAfter(time.Hour), WithKeeperClock(func() time.Time { return now }),
		WithRate(1e6))
	res, err := k.Sweep(ctx)
	require.NoError(t, err)
	assert.Equal(t, n, res.Failed)
	early, _ := st.Due(ctx, now.Add(time.Hour-time.Nanosecond), n)
	assert.Empty(t, early, "none before one retry period")
	half, _ := st.Due(ctx, now.Add(75*time.Minute), n)
	all, _ := st.Due(ctx, now.Add(90*time.Minute), n)
	assert.Len(t, all, n, "all within one and a half")
	assert.Greater(t, len(half), 0)
	assert.Less(t, len(half), n, "spread, not one instant")
}
