package shoptoken

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shoptoken/shoptoken/internal/fakeclock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// storedAccess returns the access token in st under key ("" when absent).
func storedAccess(st *flakyStore, key string) string {
	tok, _, err := st.MemoryStore.Load(context.Background(), key)
	if err != nil {
		return ""
	}
	return tok.AccessToken
}

// retrySave is pinned to the token it started with. A second rotated token whose save fails while
// that goroutine is alive finds c.saving == true and starts no retry; the old goroutine then sees
// that its token is no longer current and exits. The newest refresh token is never saved.
func TestRegression_RetrySaveDropsNewerUnsavedToken(t *testing.T) {
	st := newFlaky()
	up := newUpstream(time.Now, time.Hour)
	c := newTestCache(t, up, storeAt(st, "k"), WithMinInterval(0), WithBackoff(200*time.Millisecond, 400*time.Millisecond))
	defer c.Close()
	st.saveErr.Store(&errFlakyDown)
	tok1, err := c.Token(context.Background())
	require.NoError(t, err)
	tok2, err := c.Invalidate(context.Background(), tok1) // the platform rejected tok-1; tok-2 rotates the refresh token
	require.NoError(t, err)
	require.Equal(t, "tok-2", tok2.AccessToken)
	st.saveErr.Store(nil) // the store recovers
	assert.Eventually(t, func() bool { return storedAccess(st, sk("k")) == "tok-2" }, 1500*time.Millisecond, 10*time.Millisecond,
		"the newest rotated token (rt-2) must reach the store once it is back; store has %q", storedAccess(st, sk("k")))
}

// retrySave sleeps its backoff under a context bounded by the refresh timeout. Once backoff(n)
// exceeds the refresh timeout (defaults: 30 s vs up to 5 min, i.e. from about the 6th attempt on)
// every sleep fails and the loop `continue`s without ever calling Save again, and without checking
// closed: the token is never saved and the goroutine never exits.
func TestRegression_RetrySaveStallsWhenBackoffExceedsRefreshTimeout(t *testing.T) {
	st := newFlaky()
	up := newUpstream(time.Now, time.Hour)
	c := newTestCache(t, up, storeAt(st, "k"), WithMinInterval(0), WithRefreshTimeout(40*time.Millisecond),
		WithBackoff(120*time.Millisecond, 240*time.Millisecond)) // every backoff (60..240 ms) > 40 ms
	st.saveErr.Store(&errFlakyDown)
	_, err := c.Token(context.Background())
	require.NoError(t, err)
	st.saveErr.Store(nil)
	ok := assert.Eventually(t, func() bool { return storedAccess(st, sk("k")) == "tok-1" }, 1500*time.Millisecond, 10*time.Millisecond,
		"the unsaved token must be saved once the store is back")
	c.Close()
	if !ok {
		time.Sleep(300 * time.Millisecond)
		c.mu.Lock()
		saving := c.saving
		c.mu.Unlock()
		assert.False(t, saving, "retrySave goroutine still running after Close (leak)")
	}
}

// Close (which a Registry calls on every LRU eviction) stops the background save of a rotated
// token that could not be saved yet: the only copy of the new refresh token is dropped.
func TestRegression_CloseDropsUnsavedRotatedToken(t *testing.T) {
	st := newFlaky()
	up := newUpstream(time.Now, time.Hour)
	c := newTestCache(t, up, storeAt(st, "k"), WithMinInterval(0), WithBackoff(20*time.Millisecond, 40*time.Millisecond))
	st.saveErr.Store(&errFlakyDown)
	_, err := c.Token(context.Background())
	require.NoError(t, err)
	c.Close() // e.g. Registry evicts the least recently used shop
	st.saveErr.Store(nil)
	assert.Eventually(t, func() bool { return storedAccess(st, sk("k")) == "tok-1" }, time.Second, 10*time.Millisecond,
		"rt-1 was rotated by the platform but never reached the store")
}

// With a Store, WithToken's token only lives in cfg.initial until adoptStored seeds it. If the
// store errors at that moment (Load fails, or the seeding Save fails, after which seeded is already
// true), the seed is never published nor offered again, and the refresher is called with
// current == nil: its refresh token is lost (veapi "needs WithToken or a stored token").
func TestRegression_SeedLostWhenStoreErrors(t *testing.T) {
	seed := &Token{AccessToken: "seed-access", RefreshToken: "seed-refresh", Expiry: time.Now().Add(time.Hour)}
	check := func(t *testing.T, st *flakyStore) {
		up := newUpstream(time.Now, time.Hour)
		c := newTestCache(t, up, storeAt(st, "k"), WithToken(seed), WithRefreshTimeout(time.Second))
		defer c.Close()
		tok, err := c.Token(context.Background())
		require.NoError(t, err)
		if tok.AccessToken == "seed-access" {
			return // served the valid seed: fine
		}
		cur := up.lastCur.Load()
		require.NotNil(t, cur, "refresher called with current == nil although WithToken gave a token (got %v)", tok)
		assert.Equal(t, "seed-refresh", cur.RefreshToken)
	}
	t.Run("load fails at start", func(t *testing.T) {
		st := newFlaky()
		st.loadErr.Store(&errFlakyDown)
		check(t, st)
	})
	t.Run("seeding save fails once", func(t *testing.T) {
		st := newFlaky()
		st.saveErr.Store(&errFlakyDown)
		// Fail only the first Save (the seeding one).
		var n atomic.Int64
		st.onSave = func(*Token) {
			if n.Add(1) == 2 {
				st.saveErr.Store(nil)
			}
		}
		check(t, st)
	})
}

// A token adopted from the store by a Missing/Expired/Rejected flight is published while c.flight
// is still set, so scheduleLocked skips its planned refresh when that is already due
// (`c.flight == nil || at.After(now)`), and nothing reschedules when the flight ends. A process that
// starts (or a Registry that re-creates an evicted Cache) inside the token's early window never
// refreshes ahead: callers block on a ReasonExpired refresh at expiry.
func TestRegression_AdoptedDueTokenNeverRefreshedEarly(t *testing.T) {
	clk := fakeclock.New(t0)
	st := NewMemoryStore()
	_, err := st.Save(context.Background(), sk("k"),
		&Token{AccessToken: "x", RefreshToken: "rx", IssuedAt: t0, Expiry: t0.Add(time.Hour)}, 0)
	require.NoError(t, err)
	up := newUpstream(clk.Now, time.Hour)
	clk.Advance(55 * time.Minute) // inside x's early window (due at t0+50m)
	c := newTestCache(t, up, storeAt(st, "k"), WithClock(clk), WithEarlyRefresh(10*time.Minute), WithJitter(0))
	defer c.Close()
	tok, err := c.Token(context.Background())
	require.NoError(t, err)
	require.Equal(t, "x", tok.AccessToken)
	for range 4 {
		clk.Advance(time.Minute)
		time.Sleep(5 * time.Millisecond)
	}
	assert.Eventually(t, func() bool { return up.count(ReasonEarly) >= 1 }, 300*time.Millisecond, 5*time.Millisecond,
		"no planned refresh for an adopted token already inside its early window (Due=%v)", c.Due())
}

// adoptStored, on a planned (ReasonEarly) refresh, replaces the usable current token with a newer
// stored token marked unusable when that stored token does not "serve" (here: it is itself already
// due). Warm reads then fail and callers block on the background refresh, and if it fails they get
// an error while two valid tokens exist (DESIGN points 2 and 4).
func TestRegression_EarlyRefreshHidesValidToken(t *testing.T) {
	clk := fakeclock.New(t0)
	st := NewMemoryStore()
	_, err := st.Save(context.Background(), sk("k"),
		&Token{AccessToken: "x", RefreshToken: "rx", IssuedAt: t0, Expiry: t0.Add(time.Hour)}, 0)
	require.NoError(t, err)
	up := newUpstream(clk.Now, time.Hour)
	up.gate = make(chan struct{})
	defer close(up.gate)
	c := newTestCache(t, up, storeAt(st, "k"), WithClock(clk), WithEarlyRefresh(10*time.Minute), WithJitter(0))
	defer c.Close()
	_, err = c.Token(context.Background())
	require.NoError(t, err)
	// Another process saves y, valid until t0+55m and so due at t0+45m.
	_, err = st.Save(context.Background(), sk("k"),
		&Token{AccessToken: "y", RefreshToken: "ry", IssuedAt: t0, Expiry: t0.Add(55 * time.Minute)}, 1)
	require.NoError(t, err)
	clk.Advance(50 * time.Minute) // x's planned refresh starts and reads y from the store
	require.Eventually(t, func() bool { return up.calls.Load() == 1 }, time.Second, time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	tok, err := c.Token(ctx)
	require.NoError(t, err, "x and y are both valid, yet the caller waits for the background refresh")
	assert.NotEmpty(t, tok.AccessToken)
}

// persist's compare-and-swap uses c.version as it is when the refresh ends, not the version the
// refresh started from. Set (the merchant authorized again) bumps c.version while a refresh that
// started from the old grant is at the platform; that refresh then saves over Set's token (CAS
// succeeds) and publishes its own: the new grant is silently replaced in memory and in the store.
func TestRegression_InflightRefreshOverwritesSet(t *testing.T) {
	st := NewMemoryStore()
	up := newUpstream(time.Now, time.Hour)
	c := newTestCache(t, up, storeAt(st, "k"), WithMinInterval(0))
	defer c.Close()
	tok1, err := c.Token(context.Background())
	require.NoError(t, err)
	up.gate = make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = c.Refresh(context.Background()) // started from the old grant
	}()
	require.Eventually(t, func() bool { return up.calls.Load() == 2 }, time.Second, time.Millisecond)
	_ = tok1
	fresh := &Token{AccessToken: "reauthorized", RefreshToken: "rt-new", Expiry: time.Now().Add(time.Hour)}
	require.NoError(t, c.Set(context.Background(), fresh))
	up.gate <- struct{}{}
	<-done
	stored, _, err := st.Load(context.Background(), sk("k"))
	require.NoError(t, err)
	assert.Equal(t, "rt-new", stored.RefreshToken, "Set's new grant was overwritten in the store by a refresh of the old one")
	assert.Equal(t, "reauthorized", c.Current().AccessToken)
}

// TestRegression_pendingRotationNotDroppedByStaleAdopt: a rotated token whose save failed
// (pending) must not be dropped when the Cache could adopt the token it replaced, still in the
// store at the same version: that token's refresh token may be spent, and the pending one is the
// only copy of the chain.
func TestRegression_pendingRotationNotDroppedByStaleAdopt(t *testing.T) {
	ctx := context.Background()
	st := newFlaky()
	var n atomic.Int32
	rot := RefresherFunc(func(_ context.Context, cur *Token, _ Reason) (*Token, error) {
		i := n.Add(1)
		return &Token{AccessToken: fmt.Sprintf("P%d-access-0123456789", i), RefreshToken: fmt.Sprintf("P%d-refresh-0123456789", i),
			Expiry: time.Now().Add(90 * 24 * time.Hour)}, nil
	})
	// T0: the authorization's token, given by the caller (no IssuedAt), valid for long.
	t0 := &Token{AccessToken: "T0-access-0123456789", RefreshToken: "T0-refresh-0123456789", Expiry: time.Now().Add(80 * 24 * time.Hour)}
	c := newTestCache(t, rot, storeAt(st, "k"), WithToken(t0), WithMinInterval(0),
		WithBackoff(time.Minute, time.Minute)) // the saver's next try is a while away
	defer c.Close()
	tok, err := c.Token(ctx) // seeds the store with T0 at version 1
	require.NoError(t, err)
	require.Equal(t, t0.AccessToken, tok.AccessToken)

	st.saveErr.Store(&errFlakyDown)
	p, err := c.Invalidate(ctx, tok) // the API refused T0: rotate to P1; the save fails
	require.NoError(t, err)
	require.Equal(t, "P1-access-0123456789", p.AccessToken)
	require.True(t, c.Pending(), "P1 waits to be saved")
	st.saveErr.Store(nil)

	// The API refuses P1 as well. T0 is still in the store at the version P1 was based on.
	got, err := c.Invalidate(ctx, p)
	require.NoError(t, err)
	assert.Equal(t, "P2-access-0123456789", got.AccessToken, "refreshed from P1's refresh token, not back to T0")
	// The store failed moments ago, so P2 is saved in the background; Shutdown saves it now.
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	require.NoError(t, c.Shutdown(sctx))
	stored, _, err := st.MemoryStore.Load(ctx, sk("k"))
	require.NoError(t, err)
	assert.Equal(t, "P2-refresh-0123456789", stored.RefreshToken, "the newest link of the chain is stored")
	assert.False(t, c.Pending())
}

// TestRegression_recheckRefreshesNewGrant: after ErrReauthorize, another process stores a new
// grant that carries only a refresh token (veapi's authorization gives just that). The next
// Token refreshes it at once instead of repeating ErrReauthorize for the whole back-off.
func TestRegression_recheckRefreshesNewGrant(t *testing.T) {
	ctx := context.Background()
	ms := NewMemoryStore()
	var calls atomic.Int32
	r := RefresherFunc(func(_ context.Context, cur *Token, _ Reason) (*Token, error) {
		calls.Add(1)
		if cur != nil && cur.RefreshToken == "new-grant" {
			return &Token{AccessToken: "a-new-0123456789", RefreshToken: "r2", Expiry: time.Now().Add(time.Hour)}, nil
		}
		return nil, &Error{Op: "refresh", Kind: ErrReauthorize}
	})
	c := newTestCache(t, r, storeAt(ms, "k"), WithMinInterval(0))
	defer c.Close()
	_, err := c.Token(ctx)
	require.ErrorIs(t, err, ErrReauthorize)
	_, err = ms.Save(ctx, sk("k"), &Token{RefreshToken: "new-grant"}, 0)
	require.NoError(t, err)
	tok, err := c.Token(ctx)
	require.NoError(t, err)
	assert.Equal(t, "a-new-0123456789", tok.AccessToken)
	assert.EqualValues(t, 2, calls.Load(), "one failed call, one refresh of the new grant")
}

// TestRegression_recheckNotWhileStoreDown: during the back-off after a permanent error, a store
// that is failing is not asked again on every call: the error comes back at once.
func TestRegression_recheckNotWhileStoreDown(t *testing.T) {
	ctx := context.Background()
	st := newFlaky()
	c := newTestCache(t, RefresherFunc(func(context.Context, *Token, Reason) (*Token, error) {
		return nil, &Error{Op: "refresh", Kind: ErrReauthorize}
	}), storeAt(st, "k"), WithMinInterval(0), WithBackoff(time.Hour, time.Hour))
	defer c.Close()
	st.loadErr.Store(&errFlakyDown)
	_, err := c.Token(ctx)
	require.ErrorIs(t, err, ErrReauthorize)
	loads := st.loads.Load()
	for range 20 {
		_, err = c.Token(ctx)
		require.ErrorIs(t, err, ErrReauthorize)
	}
	assert.Equal(t, loads, st.loads.Load(), "store reads while it is down, within backoffMin")
}

// TestRegression_conflictAfterDataLossKeepsNewerToken: the store lost its data, and a process
// seeded it again with an old token (WithToken). A Cache that held version 3 and refreshes meets
// a conflict on version 1: the stored token is older than its new one, so the new one is written
// over it instead of the old one being adopted.
func TestRegression_conflictAfterDataLossKeepsNewerToken(t *testing.T) {
	ctx := context.Background()
	st := newFlaky()
	up := newUpstream(time.Now, time.Hour)
	c := newTestCache(t, up, storeAt(st, "k"), WithMinInterval(0))
	defer c.Close()
	tok, err := c.Token(ctx)
	require.NoError(t, err)
	for range 2 {
		tok, err = c.Invalidate(ctx, tok)
		require.NoError(t, err)
	}
	_, v, _ := st.MemoryStore.Load(ctx, sk("k"))
	require.EqualValues(t, 3, v)

	st.MemoryStore = NewMemoryStore() // the data is gone; an old token is seeded at version 1
	old := &Token{AccessToken: "seeded-long-ago-0123456789", IssuedAt: time.Now().Add(-24 * time.Hour), Expiry: time.Now().Add(time.Hour)}
	_, err = st.MemoryStore.Save(ctx, sk("k"), old, 0)
	require.NoError(t, err)

	fresh, err := c.Refresh(ctx)
	require.NoError(t, err)
	assert.Equal(t, "tok-4", fresh.AccessToken)
	stored, _, err := st.MemoryStore.Load(ctx, sk("k"))
	require.NoError(t, err)
	assert.Equal(t, "tok-4", stored.AccessToken, "the newer token is stored")
	assert.Equal(t, "tok-4", c.Current().AccessToken)
}
