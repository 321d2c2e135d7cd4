package shoptoken

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// flakyStore wraps a MemoryStore and fails Save/Load/Lock on demand, counting calls.
type flakyStore struct {
	*MemoryStore
	saveErr, loadErr atomic.Pointer[error]
	saves, loads     atomic.Int64
	onSave           func(tok *Token) // runs before the save
}

func newFlaky() *flakyStore { return &flakyStore{MemoryStore: NewMemoryStore()} }

func (f *flakyStore) Save(ctx context.Context, key string, tok *Token, prev int64) (int64, error) {
	f.saves.Add(1)
	if f.onSave != nil {
		f.onSave(tok)
	}
	if e := f.saveErr.Load(); e != nil {
		return 0, *e
	}
	return f.MemoryStore.Save(ctx, key, tok, prev)
}

func (f *flakyStore) Load(ctx context.Context, key string) (*Token, int64, error) {
	f.loads.Add(1)
	if e := f.loadErr.Load(); e != nil {
		return nil, 0, *e
	}
	return f.MemoryStore.Load(ctx, key)
}

var errFlakyDown = errors.New("store: connection refused")

func TestCache_Token_persistsBeforePublish(t *testing.T) {
	st := newFlaky()
	up := newUpstream(time.Now, time.Hour)
	var c *Cache
	var seenBeforeSave atomic.Int64
	st.onSave = func(tok *Token) {
		if cur := c.Current(); cur != nil && cur.AccessToken == tok.AccessToken {
			seenBeforeSave.Add(1)
		}
	}
	c = newTestCache(t, up, storeAt(st, "shop-1"), WithMinInterval(0))
	tok, err := c.Token(context.Background())
	require.NoError(t, err)
	for range 5 {
		tok, err = c.Invalidate(context.Background(), tok)
		require.NoError(t, err)
	}
	assert.Zero(t, seenBeforeSave.Load(), "no token is visible before it is saved")
	stored, ver, err := st.MemoryStore.Load(context.Background(), sk("shop-1"))
	require.NoError(t, err)
	assert.Equal(t, tok.AccessToken, stored.AccessToken)
	assert.Equal(t, int64(6), ver)
}

func TestCache_Token_fleetSharesOneRefresh(t *testing.T) {
	st := NewMemoryStore()
	up := newUpstream(time.Now, time.Hour)
	up.delay = 30 * time.Millisecond
	caches := make([]*Cache, 8) // eight "processes"
	for i := range caches {
		caches[i] = newTestCache(t, up, storeAt(st, "shop-1"))
	}
	var wg sync.WaitGroup
	var errs atomic.Int64
	for i := range 800 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if tok, err := caches[i%8].Token(context.Background()); err != nil || tok.AccessToken != "tok-1" {
				errs.Add(1)
			}
		}()
	}
	wg.Wait()
	assert.Zero(t, errs.Load())
	assert.Equal(t, int64(1), up.calls.Load())
}

func TestCache_Invalidate_fleetCompareAndRefresh(t *testing.T) {
	st := NewMemoryStore()
	up := newUpstream(time.Now, time.Hour)
	a := newTestCache(t, up, storeAt(st, "k"), WithMinInterval(0))
	b := newTestCache(t, up, storeAt(st, "k"), WithMinInterval(0))
	ta, err := a.Token(context.Background())
	require.NoError(t, err)
	tb, err := b.Token(context.Background())
	require.NoError(t, err)
	require.Equal(t, ta.AccessToken, tb.AccessToken)
	// Process A sees the rejection and refreshes; process B then sees the same rejection.
	na, err := a.Invalidate(context.Background(), ta)
	require.NoError(t, err)
	nb, err := b.Invalidate(context.Background(), tb)
	require.NoError(t, err)
	assert.Equal(t, na.AccessToken, nb.AccessToken, "B adopts A's token from the store")
	assert.Equal(t, int64(2), up.calls.Load())
}

func TestCache_Token_conflictAdoptsStoredToken(t *testing.T) {
	st := newFlaky()
	up := newUpstream(time.Now, time.Hour)
	c := newTestCache(t, up, storeAt(st, "k"), WithMinInterval(0))
	tok, err := c.Token(context.Background())
	require.NoError(t, err)
	// Another writer (a process with no lease) saves first.
	_, ver, _ := st.MemoryStore.Load(context.Background(), sk("k"))
	other := &Token{AccessToken: "other", Expiry: time.Now().Add(time.Hour)}
	_, err = st.MemoryStore.Save(context.Background(), sk("k"), other, ver)
	require.NoError(t, err)
	// c has not seen it; its refresh loses the compare-and-swap. (Invalidate finds "other" first
	// through the store, so drive the conflict directly.)
	got := c.persist(context.Background(), &Token{AccessToken: "mine", Expiry: time.Now().Add(time.Hour)}, ver)
	assert.Equal(t, "other", got.AccessToken)
	assert.Equal(t, "other", c.Current().AccessToken)
	_ = tok
}

func TestCache_Token_saveFailureKeepsNewTokenAndRetries(t *testing.T) {
	st := newFlaky()
	up := newUpstream(time.Now, time.Hour)
	var saveFailed, persisted atomic.Int64
	c := newTestCache(t, up, storeAt(st, "k"), WithMinInterval(0), WithBackoff(5*time.Millisecond, 20*time.Millisecond),
		WithEvents(func(e Event) {
			switch e.Kind {
			case EventSaveFailed:
				saveFailed.Add(1)
			case EventPersisted:
				persisted.Add(1)
			}
		}))
	st.saveErr.Store(&errFlakyDown)
	tok, err := c.Token(context.Background())
	require.NoError(t, err, "the new token is used even though it could not be saved")
	assert.Equal(t, "tok-1", tok.AccessToken)
	assert.GreaterOrEqual(t, saveFailed.Load(), int64(1))
	time.Sleep(50 * time.Millisecond)
	st.saveErr.Store(nil)
	require.Eventually(t, func() bool { return persisted.Load() == 1 }, 2*time.Second, 5*time.Millisecond)
	stored, _, err := st.MemoryStore.Load(context.Background(), sk("k"))
	require.NoError(t, err)
	assert.Equal(t, "tok-1", stored.AccessToken, "the token (and its refresh token) reached the store")
	assert.Equal(t, "rt-1", stored.RefreshToken)
}

func TestCache_Token_storeDownServesMemoryAndCapsCalls(t *testing.T) {
	st := newFlaky()
	up := newUpstream(time.Now, time.Hour)
	c := newTestCache(t, up, storeAt(st, "k"), WithMinInterval(time.Hour), WithRefreshTimeout(200*time.Millisecond))
	tok, err := c.Token(context.Background())
	require.NoError(t, err)
	st.loadErr.Store(&errFlakyDown)
	st.saveErr.Store(&errFlakyDown)
	loads := st.loads.Load()
	for range 100 {
		got, err := c.Token(context.Background())
		require.NoError(t, err)
		require.Equal(t, tok, got)
	}
	assert.Equal(t, loads, st.loads.Load(), "warm reads make no store round trip")
	// Rejections while the store is down still obey the minimum interval.
	for range 20 {
		_, _ = c.Invalidate(context.Background(), tok)
	}
	assert.Equal(t, int64(1), up.calls.Load())
}

func TestCache_Token_withTokenSeedsEmptyStoreOnly(t *testing.T) {
	st := NewMemoryStore()
	up := newUpstream(time.Now, time.Hour)
	seed := &Token{AccessToken: "seed", RefreshToken: "rt-seed", Expiry: time.Now().Add(time.Hour)}
	a := newTestCache(t, up, storeAt(st, "k"), WithToken(seed))
	tok, err := a.Token(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "seed", tok.AccessToken)
	_, ver, err := st.Load(context.Background(), sk("k"))
	require.NoError(t, err)
	assert.Equal(t, int64(1), ver)
	// A process started later with an old token from its config: the stored token wins.
	newer := &Token{AccessToken: "newer", Expiry: time.Now().Add(time.Hour)}
	_, err = st.Save(context.Background(), sk("k"), newer, 1)
	require.NoError(t, err)
	b := newTestCache(t, up, storeAt(st, "k"), WithToken(seed))
	tok, err = b.Token(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "newer", tok.AccessToken)
	assert.Zero(t, up.calls.Load())
}

func TestCache_Token_expiredSeedRefreshesWithItsRefreshToken(t *testing.T) {
	st := NewMemoryStore()
	up := newUpstream(time.Now, time.Hour)
	seed := &Token{AccessToken: "old", RefreshToken: "rt-seed", Expiry: time.Now().Add(-time.Hour)}
	c := newTestCache(t, up, storeAt(st, "k"), WithToken(seed))
	tok, err := c.Token(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "tok-1", tok.AccessToken)
	assert.Equal(t, "rt-seed", up.lastCur.Load().RefreshToken)
	stored, _, _ := st.Load(context.Background(), sk("k"))
	assert.Equal(t, "rt-1", stored.RefreshToken)
}

func TestCache_Token_deadGrantRereadsStoreFirst(t *testing.T) {
	st := NewMemoryStore()
	var calls atomic.Int64
	rotated := &Token{AccessToken: "rotated", RefreshToken: "rt-2", Expiry: time.Now().Add(time.Hour)}
	c := newTestCache(t, RefresherFunc(func(ctx context.Context, cur *Token, _ Reason) (*Token, error) {
		calls.Add(1)
		// Another process rotated while we were calling: our refresh token is dead.
		_, v, _ := st.Load(ctx, sk("k"))
		_, _ = st.Save(ctx, sk("k"), rotated, v)
		return nil, &Error{Platform: "veapi", Kind: ErrReauthorize, Message: "refresh_token invalid"}
	}), storeAt(st, "k"))
	tok, err := c.Token(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "rotated", tok.AccessToken)
	assert.Equal(t, int64(1), calls.Load())
}

// TestCache_permanentError_adoptsTokenStoredLater: after ErrReauthorize, the Cache does not call
// the platform again during its back-off, but a token another process stored (a new
// authorization) is served at once.
func TestCache_permanentError_adoptsTokenStoredLater(t *testing.T) {
	ctx := context.Background()
	ms := NewMemoryStore()
	var calls atomic.Int32
	dead := RefresherFunc(func(context.Context, *Token, Reason) (*Token, error) {
		calls.Add(1)
		return nil, &Error{Op: "refresh", Kind: ErrReauthorize}
	})
	c := newTestCache(t, dead, storeAt(ms, "k"))
	defer c.Close()
	_, err := c.Token(ctx)
	require.ErrorIs(t, err, ErrReauthorize)
	_, err = c.Token(ctx)
	require.ErrorIs(t, err, ErrReauthorize, "still dead, nothing stored")
	require.EqualValues(t, 1, calls.Load(), "no second platform call during the back-off")

	fresh := &Token{AccessToken: "fresh-0123456789abcdef", Expiry: time.Now().Add(time.Hour)}
	_, err = ms.Save(ctx, sk("k"), fresh, 0)
	require.NoError(t, err)
	got, err := c.Token(ctx)
	require.NoError(t, err)
	require.Equal(t, fresh.AccessToken, got.AccessToken)
	require.EqualValues(t, 1, calls.Load())
}

// TestCache_WithStoredToken_noStoreRoundTrip: a Cache started from a token the caller loaded from
// the store serves it without reading the store again; its next save is a compare-and-swap on the
// given version; an expired loaded token still makes the first Token go through the store.
func TestCache_WithStoredToken_noStoreRoundTrip(t *testing.T) {
	ctx := context.Background()
	st := newFlaky()
	up := newUpstream(time.Now, time.Hour)
	loaded := &Token{AccessToken: "loaded-0123456789abcdef", RefreshToken: "r", Expiry: time.Now().Add(time.Hour)}
	v, err := st.MemoryStore.Save(ctx, sk("k"), loaded, 0)
	require.NoError(t, err)

	c := newTestCache(t, up, storeAt(st, "k"), WithStoredToken(loaded, v), WithMinInterval(0))
	defer c.Close()
	for range 100 {
		tok, err := c.Token(ctx)
		require.NoError(t, err)
		require.Equal(t, loaded.AccessToken, tok.AccessToken)
	}
	assert.Zero(t, st.loads.Load(), "store reads")
	assert.Zero(t, up.calls.Load(), "platform calls")

	fresh, err := c.Invalidate(ctx, loaded)
	require.NoError(t, err)
	stored, v2, err := st.MemoryStore.Load(ctx, sk("k"))
	require.NoError(t, err)
	assert.Equal(t, fresh.AccessToken, stored.AccessToken)
	assert.Equal(t, v+1, v2, "saved on top of the given version")

	old := &Token{AccessToken: "old-0123456789abcdef", Expiry: time.Now().Add(-time.Minute)}
	c2 := newTestCache(t, up, storeAt(st, "k"), WithStoredToken(old, 1), WithMinInterval(0))
	defer c2.Close()
	got, err := c2.Token(ctx)
	require.NoError(t, err)
	assert.Equal(t, fresh.AccessToken, got.AccessToken, "an expired loaded token: the store's newer one is adopted")
}

// TestCache_Reload: Reload adopts a usable stored token without a platform call, and leaves the
// Cache alone when the store holds nothing better or is down.
func TestCache_Reload(t *testing.T) {
	ctx := context.Background()
	st := newFlaky()
	up := newUpstream(time.Now, time.Hour)
	c := newTestCache(t, up, storeAt(st, "k"), WithMinInterval(0))
	defer c.Close()
	assert.Nil(t, c.Reload(ctx), "nothing anywhere")
	first, err := c.Token(ctx)
	require.NoError(t, err)
	assert.Same(t, first, c.Reload(ctx), "the store holds the Cache's own token")

	_, v, _ := st.MemoryStore.Load(ctx, sk("k"))
	other := &Token{AccessToken: "other-0123456789abcdef", Expiry: time.Now().Add(time.Hour)}
	_, err = st.MemoryStore.Save(ctx, sk("k"), other, v)
	require.NoError(t, err)
	st.loadErr.Store(&errFlakyDown)
	assert.Same(t, first, c.Reload(ctx), "store down: unchanged")
	st.loadErr.Store(nil)
	assert.Equal(t, other.AccessToken, c.Reload(ctx).AccessToken, "a store that failed fast is asked again at once")
	assert.Equal(t, other.AccessToken, c.Current().AccessToken)
	assert.EqualValues(t, 1, up.calls.Load(), "platform calls")

	bare := newTestCache(t, up)
	defer bare.Close()
	assert.Nil(t, bare.Reload(ctx))
}
