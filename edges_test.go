package shoptoken

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken/internal/fakeclock"
	"github.com/shoptoken/shoptoken/internal/testkit"
)

// slowLockStore is a MemoryStore whose Lock first waits hold, as a lease held by another process
// would make it, and records the ttl it was asked for.
type slowLockStore struct {
	*MemoryStore
	hold time.Duration
	ttl  atomic.Int64
}

func (s *slowLockStore) Lock(ctx context.Context, key string, ttl time.Duration) (func(), error) {
	s.ttl.Store(int64(ttl))
	select {
	case <-time.After(s.hold):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return s.MemoryStore.Lock(ctx, key, ttl)
}

func (s *slowLockStore) TryLockLoad(ctx context.Context, key string, ttl time.Duration) (LeaseLoad, error) {
	s.ttl.Store(int64(ttl))
	select {
	case <-time.After(s.hold):
	case <-ctx.Done():
		return LeaseLoad{}, ctx.Err()
	}
	return s.MemoryStore.TryLockLoad(ctx, key, ttl)
}

// TestCache_refresh_platformCallHasItsWholeBudget: the wait for the lease used most of the refresh
// timeout; the platform call still starts with the whole timeout ahead of it (a destructive call is
// never given up for lack of time), and the lease TTL is the one configured, not stretched to the
// refresh timeout.
func TestCache_refresh_platformCallHasItsWholeBudget(t *testing.T) {
	const timeout = 600 * time.Millisecond
	st := &slowLockStore{MemoryStore: NewMemoryStore(), hold: 500 * time.Millisecond}
	var left atomic.Int64
	r := RefresherFunc(func(ctx context.Context, _ *Token, _ Reason) (*Token, error) {
		dl, _ := ctx.Deadline()
		left.Store(int64(time.Until(dl)))
		return &Token{AccessToken: "fresh-0123456789", Expiry: time.Now().Add(time.Hour)}, nil
	})
	c := newTestCache(t, r, storeAt(st, "k"), WithRefreshTimeout(timeout), WithLeaseTTL(300*time.Millisecond), WithMinInterval(0))
	defer c.Close()
	tok, err := c.Token(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "fresh-0123456789", tok.AccessToken)
	assert.Greater(t, time.Duration(left.Load()), timeout*9/10, "budget left for the platform call")
	assert.Equal(t, 300*time.Millisecond, time.Duration(st.ttl.Load()), "lease TTL")
}

// TestCache_defaultLeaseTTL: a dead holder stalls a key for DefaultLeaseTTL, not for the refresh
// timeout plus 15 s.
func TestCache_defaultLeaseTTL(t *testing.T) {
	st := &slowLockStore{MemoryStore: NewMemoryStore()}
	c := newTestCache(t, newUpstream(time.Now, time.Hour), storeAt(st, "k"), WithRefreshTimeout(time.Minute))
	defer c.Close()
	_, err := c.Token(context.Background())
	require.NoError(t, err)
	assert.Equal(t, DefaultLeaseTTL, time.Duration(st.ttl.Load()))
	assert.Equal(t, 10*time.Second, DefaultLeaseTTL)
}

// TestCache_Shutdown_waitsForRotationAndSave: a refresh is under way when the process shuts down;
// Shutdown returns only once its token is received and saved, although its caller gave up.
func TestCache_Shutdown_waitsForRotationAndSave(t *testing.T) {
	st := NewMemoryStore()
	up := newUpstream(time.Now, time.Hour)
	up.gate = make(chan struct{})
	c := newTestCache(t, up, storeAt(st, "k"), WithMinInterval(0))
	cctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := c.Token(cctx)
	require.ErrorIs(t, err, ErrUnavailable, "the caller gave up")
	done := make(chan error, 1)
	go func() { done <- c.Shutdown(context.Background()) }()
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned %v while the rotation was under way", err)
	case <-time.After(50 * time.Millisecond):
	}
	up.gate <- struct{}{}
	require.NoError(t, <-done)
	stored, _, err := st.Load(context.Background(), sk("k"))
	require.NoError(t, err)
	assert.Equal(t, "tok-1", stored.AccessToken, "the rotation's token is saved")
	_, err = c.Token(context.Background())
	assert.ErrorIs(t, err, ErrClosed)
}

// TestCache_Shutdown_reportsUnsavedToken: the store fails; Shutdown retries the save at once,
// and when ctx ends first it says so and Pending holds.
func TestCache_Shutdown_reportsUnsavedToken(t *testing.T) {
	st := newFlaky()
	st.saveErr.Store(&errFlakyDown)
	c := newTestCache(t, newUpstream(time.Now, time.Hour), storeAt(st, "k"), WithMinInterval(0),
		WithBackoff(time.Hour, time.Hour))
	tok, err := c.Token(context.Background())
	require.NoError(t, err)
	require.True(t, c.Pending())
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err = c.Shutdown(ctx)
	require.ErrorIs(t, err, ErrUnavailable)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.True(t, c.Pending())
	assert.Equal(t, tok.AccessToken, c.Current().AccessToken, "Current holds the unsaved token")

	st.saveErr.Store(nil)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	start := time.Now()
	require.NoError(t, c.Shutdown(ctx2), "a second Shutdown saves at once, not after the hour-long backoff")
	assert.Less(t, time.Since(start), 2*time.Second)
	assert.False(t, c.Pending())
	stored, _, err := st.MemoryStore.Load(context.Background(), sk("k"))
	require.NoError(t, err)
	assert.Equal(t, tok.AccessToken, stored.AccessToken)
}

// corruptStore is a MemoryStore that holds a damaged value under every key until a Save at the
// damaged value's version replaces it.
type corruptStore struct {
	*MemoryStore
	mu      sync.Mutex
	damaged bool
	saves   atomic.Int64
}

const damagedVersion = 7

func (s *corruptStore) Load(ctx context.Context, key string) (*Token, int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.damaged {
		return nil, damagedVersion, fmt.Errorf("test store: load %q: %w", key, ErrCorrupt)
	}
	return s.MemoryStore.Load(ctx, key)
}

func (s *corruptStore) Save(ctx context.Context, key string, tok *Token, prev int64) (int64, error) {
	s.saves.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.damaged {
		if prev != damagedVersion {
			return 0, ErrConflict
		}
		s.damaged = false
		prev = 0
	}
	return s.MemoryStore.Save(ctx, key, tok, prev)
}

// TestCache_corruptStoredValue_replaced: a damaged value under the key is replaced by the next
// token, with one platform call for two processes and 40 callers, reported once per process; a
// new token is not left unsaved.
func TestCache_corruptStoredValue_replaced(t *testing.T) {
	st := &corruptStore{MemoryStore: NewMemoryStore(), damaged: true}
	up := newUpstream(time.Now, time.Hour)
	up.delay = 20 * time.Millisecond
	var events testkit.Recorder[Event]
	caches := []*Cache{
		newTestCache(t, up, storeAt(st, "k"), WithMinInterval(0), WithEvents(events.Record)),
		newTestCache(t, up, storeAt(st, "k"), WithMinInterval(0), WithEvents(events.Record)),
	}
	var wg sync.WaitGroup
	var errs atomic.Int64
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := caches[i%2].Token(context.Background()); err != nil {
				errs.Add(1)
			}
		}()
	}
	wg.Wait()
	assert.Zero(t, errs.Load())
	assert.EqualValues(t, 1, up.calls.Load(), "platform calls")
	stored, _, err := st.Load(context.Background(), sk("k"))
	require.NoError(t, err, "the damage is replaced")
	assert.Equal(t, "tok-1", stored.AccessToken)
	corrupt := events.Count(func(e Event) bool { return e.Kind == EventStoreCorrupt })
	assert.GreaterOrEqual(t, corrupt, 1)
	assert.LessOrEqual(t, corrupt, 2, "once per Cache")
	assert.Zero(t, events.Count(func(e Event) bool { return e.Kind == EventSaveFailed }))
	for _, c := range caches {
		assert.False(t, c.Pending())
		c.Close()
	}
}

// TestCache_Set_overwritesCorruptValue: Set installs a token over a damaged value.
func TestCache_Set_overwritesCorruptValue(t *testing.T) {
	st := &corruptStore{MemoryStore: NewMemoryStore(), damaged: true}
	c := newTestCache(t, newUpstream(time.Now, time.Hour), storeAt(st, "k"))
	defer c.Close()
	require.NoError(t, c.Set(context.Background(), &Token{AccessToken: "set-0123456789", Expiry: time.Now().Add(time.Hour)}))
	stored, _, err := st.Load(context.Background(), sk("k"))
	require.NoError(t, err)
	assert.Equal(t, "set-0123456789", stored.AccessToken)
}

// partitionedStore never answers: every call waits for its context, as a store behind a network
// partition does with the client's default timeouts.
type partitionedStore struct {
	*MemoryStore
	down  atomic.Bool
	calls atomic.Int64
}

func (s *partitionedStore) wait(ctx context.Context) error {
	s.calls.Add(1)
	if !s.down.Load() {
		return nil
	}
	<-ctx.Done()
	return errors.New("test store: i/o timeout")
}

func (s *partitionedStore) Load(ctx context.Context, key string) (*Token, int64, error) {
	if err := s.wait(ctx); err != nil {
		return nil, 0, err
	}
	return s.MemoryStore.Load(ctx, key)
}

func (s *partitionedStore) Save(ctx context.Context, key string, tok *Token, prev int64) (int64, error) {
	if err := s.wait(ctx); err != nil {
		return 0, err
	}
	return s.MemoryStore.Save(ctx, key, tok, prev)
}

func (s *partitionedStore) TryLockLoad(ctx context.Context, key string, ttl time.Duration) (LeaseLoad, error) {
	if err := s.wait(ctx); err != nil {
		return LeaseLoad{}, err
	}
	return s.MemoryStore.TryLockLoad(ctx, key, ttl)
}

func (s *partitionedStore) Lock(ctx context.Context, key string, ttl time.Duration) (func(), error) {
	if err := s.wait(ctx); err != nil {
		return nil, err
	}
	return s.MemoryStore.Lock(ctx, key, ttl)
}

// TestCache_storeUnreachable_callersDoNotWaitForIt: a rejected token is replaced while the store
// is partitioned. The first rejection costs one store timeout, not a Load, a Lock and a Save each
// waiting their client's timeout; the next ones cost no store round trip at all; the new tokens
// are still saved once the store answers again.
func TestCache_storeUnreachable_callersDoNotWaitForIt(t *testing.T) {
	st := &partitionedStore{MemoryStore: NewMemoryStore()}
	up := newUpstream(time.Now, time.Hour)
	c := newTestCache(t, up, storeAt(st, "k"), WithMinInterval(0), WithStoreTimeout(200*time.Millisecond),
		WithBackoff(50*time.Millisecond, 50*time.Millisecond))
	defer c.Close()
	ctx := context.Background()
	tok, err := c.Token(ctx)
	require.NoError(t, err)

	st.down.Store(true)
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	start := time.Now()
	fresh, err := c.Invalidate(cctx, tok)
	require.NoError(t, err)
	assert.NotEqual(t, tok.AccessToken, fresh.AccessToken)
	assert.Less(t, time.Since(start), 400*time.Millisecond, "one store timeout at most")

	calls := st.calls.Load()
	start = time.Now()
	again, err := c.Invalidate(cctx, fresh)
	require.NoError(t, err)
	assert.NotEqual(t, fresh.AccessToken, again.AccessToken)
	assert.Less(t, time.Since(start), 100*time.Millisecond, "no wait for a store known to be down")
	assert.Equal(t, calls, st.calls.Load(), "no store round trip on the callers' path while it is down")
	assert.True(t, c.Pending())

	st.down.Store(false)
	require.Eventually(t, func() bool { return !c.Pending() }, 5*time.Second, 10*time.Millisecond)
	stored, _, err := st.MemoryStore.Load(ctx, sk("k"))
	require.NoError(t, err)
	assert.Equal(t, again.AccessToken, stored.AccessToken, "the newest token is saved in the background")
}

// TestCache_unknownIssueTime_refreshedInsideEarlyWindow: a token of unknown age (WithToken, no
// IssuedAt) already inside the early window is refreshed now, not after half its remaining life.
func TestCache_unknownIssueTime_refreshedInsideEarlyWindow(t *testing.T) {
	clk := fakeclock.New(t0)
	up := newUpstream(clk.Now, 2*time.Hour)
	c := newTestCache(t, up, WithClock(clk), WithEarlyRefresh(time.Hour), WithJitter(0),
		WithToken(&Token{AccessToken: "given-0123456789", Expiry: t0.Add(10 * time.Minute)}))
	defer c.Close()
	tok, err := c.Token(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "given-0123456789", tok.AccessToken, "the valid token is served meanwhile")
	require.Eventually(t, func() bool { return up.calls.Load() == 1 }, time.Second, time.Millisecond,
		"refreshed without the clock moving")
	require.Eventually(t, func() bool { return c.Current().AccessToken == "tok-1" }, time.Second, time.Millisecond)
	clk.Advance(30 * time.Minute)
	assert.EqualValues(t, 1, up.calls.Load(), "the new token, of known age, is not refreshed at once again")
}

// TestCache_Invalidate_newerTokenReadsStore: another process replaced the Cache's token; a caller
// reports that newer token rejected. The Cache reads the store instead of handing back its own
// older token, and refreshes once. A rejection of a token older than its own costs nothing.
func TestCache_Invalidate_newerTokenReadsStore(t *testing.T) {
	st := newFlaky()
	up := newUpstream(time.Now, time.Hour)
	a := newTestCache(t, up, storeAt(st, "k"), WithMinInterval(0))
	defer a.Close()
	b := newTestCache(t, up, storeAt(st, "k"), WithMinInterval(0))
	defer b.Close()
	ctx := context.Background()
	t1, err := a.Token(ctx)
	require.NoError(t, err)
	time.Sleep(2 * time.Millisecond) // issue times must differ
	t2, err := b.Invalidate(ctx, t1)
	require.NoError(t, err)
	require.NotEqual(t, t1.AccessToken, t2.AccessToken)
	require.Equal(t, t1.AccessToken, a.Current().AccessToken, "a still holds t1")

	got, err := a.Invalidate(ctx, t2)
	require.NoError(t, err)
	assert.NotEqual(t, t1.AccessToken, got.AccessToken, "not a's older token")
	assert.NotEqual(t, t2.AccessToken, got.AccessToken, "not the rejected one")
	assert.EqualValues(t, 3, up.calls.Load(), "one refresh for the rejection")

	loads := st.loads.Load()
	again, err := a.Invalidate(ctx, t1)
	require.NoError(t, err)
	assert.Equal(t, got.AccessToken, again.AccessToken)
	assert.Equal(t, loads, st.loads.Load(), "an older token's rejection reads nothing")
	assert.EqualValues(t, 3, up.calls.Load())
}

// TestNewCache_rejectsNonsense: values that make no sense fail NewCache with ErrBadRequest naming
// the option, before anything is sent.
func TestNewCache_rejectsNonsense(t *testing.T) {
	up := newUpstream(time.Now, time.Hour)
	for _, tc := range []struct {
		name string
		r    Refresher
		opt  Option
		want string
	}{
		{"nil refresher", nil, nil, "Refresher is nil"},
		{"jitter NaN", up, WithJitter(math.NaN()), "WithJitter"},
		{"jitter +Inf", up, WithJitter(math.Inf(1)), "WithJitter"},
		{"jitter too big", up, WithJitter(0.7), "WithJitter"},
		{"jitter negative", up, WithJitter(-0.1), "WithJitter"},
		{"early negative", up, WithEarlyRefresh(-time.Second), "WithEarlyRefresh"},
		{"skew negative", up, WithExpirySkew(-time.Second), "WithExpirySkew"},
		{"refresh timeout zero", up, WithRefreshTimeout(0), "WithRefreshTimeout"},
		{"store timeout negative", up, WithStoreTimeout(-1), "WithStoreTimeout"},
		{"lease ttl zero", up, WithLeaseTTL(0), "WithLeaseTTL"},
		{"min interval negative", up, WithMinInterval(-1), "WithMinInterval"},
		{"backoff hi below lo", up, WithBackoff(2*time.Second, time.Second), "WithBackoff"},
		{"backoff zero", up, WithBackoff(0, time.Second), "WithBackoff"},
		{"grant warning negative", up, WithGrantWarning(-time.Hour), "WithGrantWarning"},
		{"nil store", up, WithStore(nil), "WithStore"},
		{"store without a key", up, WithStore(NewMemoryStore()), "WithKey"},
		{"key without an app", up, func(c *config) { WithStore(NewMemoryStore())(c); WithKey(Key{Platform: "p"})(c) }, "WithKey"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewCache(tc.r, tc.opt)
			require.ErrorIs(t, err, ErrBadRequest)
			assert.Nil(t, c)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// TestCache_tokenBeyondYear9999_isStoredNotLost: a refresher's token with a time no store can
// hold is kept, its time brought into range, and persisted; Set refuses such a token instead.
func TestCache_tokenBeyondYear9999_isStoredNotLost(t *testing.T) {
	st := NewMemoryStore()
	far := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	r := RefresherFunc(func(context.Context, *Token, Reason) (*Token, error) {
		return &Token{AccessToken: "far-0123456789", RefreshToken: "rotated-0123456789", Expiry: far, RefreshExpiry: far}, nil
	})
	c := newTestCache(t, r, storeAt(st, "k"))
	defer c.Close()
	tok, err := c.Token(context.Background())
	require.NoError(t, err)
	_, err = json.Marshal(tok)
	require.NoError(t, err, "the published token can be stored")
	stored, _, err := st.Load(context.Background(), sk("k"))
	require.NoError(t, err)
	assert.Equal(t, "rotated-0123456789", stored.RefreshToken)
	assert.Equal(t, 9999, stored.Expiry.Year())
	assert.False(t, c.Pending())

	err = c.Set(context.Background(), &Token{AccessToken: "x-0123456789", Expiry: far})
	assert.ErrorIs(t, err, ErrBadRequest)
}

// TestCache_WithTrace: the trace hook wraps every platform call, gets the Key and the reason,
// hands the Refresher its context, and sees the call's error; the warm path never calls it.
func TestCache_WithTrace(t *testing.T) {
	type ctxKey struct{}
	var starts, ends atomic.Int64
	var lastErr atomic.Pointer[error]
	var sawCtx atomic.Bool
	up := newUpstream(time.Now, time.Hour)
	r := RefresherFunc(func(ctx context.Context, cur *Token, why Reason) (*Token, error) {
		sawCtx.Store(ctx.Value(ctxKey{}) == "span")
		return up.Refresh(ctx, cur, why)
	})
	k := Key{Platform: "test", App: "app", Shop: "s"}
	c := newTestCache(t, r, WithKey(k), WithMinInterval(0), WithTrace(func(ctx context.Context, got Key, why Reason) (context.Context, func(error)) {
		starts.Add(1)
		assert.Equal(t, k, got)
		assert.Equal(t, ReasonMissing, why)
		return context.WithValue(ctx, ctxKey{}, "span"), func(err error) { ends.Add(1); lastErr.Store(&err) }
	}))
	defer c.Close()
	for range 100 {
		_, err := c.Token(context.Background())
		require.NoError(t, err)
	}
	assert.EqualValues(t, 1, starts.Load())
	assert.EqualValues(t, 1, ends.Load())
	assert.True(t, sawCtx.Load(), "the Refresher runs on the hook's context")
	assert.NoError(t, *lastErr.Load())
}
