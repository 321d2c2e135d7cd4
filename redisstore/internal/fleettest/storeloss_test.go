package fleettest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
)

// These tests pin down, one at a time, what TestFleet_redisRestart can run into by chance: how a
// Cache behaves when a failing store comes back, and when the store lost its data (a Redis
// restarted without persistence, or a failover to a replica that had not caught up) so that a
// key's versions start again at 1.

// TestCache_saveRetry_keepsNewestToken: a token whose save failed is saved once the store is
// back, also when an earlier token's save was still being retried.
//
// The Cache's token A fails to save, so a background retry starts; before its first retry, token B
// replaces A and fails to save too. When the store comes back, B must end up in it: it is the
// newest token, and on a platform that rotates refresh tokens the only one that continues the
// chain.
func TestCache_saveRetry_keepsNewestToken(t *testing.T) {
	ctx := context.Background()
	ms := shoptoken.NewMemoryStore()
	fs := &flakyStore{Store: ms}
	p := &fakePlatform{life: time.Hour, issued: map[string]time.Time{}}
	c := newCache(t, p, shoptoken.WithStore(fs), shoptoken.WithKey(fk("test/fleet/k")), shoptoken.WithEarlyRefresh(0),
		shoptoken.WithMinInterval(0), shoptoken.WithBackoff(400*time.Millisecond, 400*time.Millisecond))
	t.Cleanup(c.Close)

	fs.down.Store(true)
	a, err := c.Token(ctx)
	require.NoError(t, err)
	b, err := c.Invalidate(ctx, a) // before the retry of A's save, 200–400 ms away
	require.NoError(t, err)
	require.NotEqual(t, a.AccessToken, b.AccessToken)
	fs.down.Store(false)

	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if tok, _, err := ms.Load(ctx, "test/fleet/k"); err == nil && tok.AccessToken == b.AccessToken {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	tok, v, err := ms.Load(ctx, "test/fleet/k")
	t.Errorf("3 s after the store came back it holds %v (version %d, err %v), not the Cache's token %s",
		tok, v, err, b.AccessToken)
}

// TestCache_saveRetry_adoptedTokenWins: a token still waiting to be saved must not be saved over
// a newer token the Cache has adopted from the store since.
//
// Cache A's store is unreachable when A refreshes: t2 is used from memory and its save retried in
// the background (first retry 0.5–1 s later). Process B, whose store works, refreshes and saves t3
// (on vv-tool that fetch kills t2). A's store is back; the platform rejects t2, and A adopts t3
// from the store, as it should. Then A's background retry runs.
func TestCache_saveRetry_adoptedTokenWins(t *testing.T) {
	ctx := context.Background()
	ms := shoptoken.NewMemoryStore()
	fs := &flakyStore{Store: ms}
	p := &fakePlatform{life: time.Hour, issued: map[string]time.Time{}}
	opts := []shoptoken.Option{shoptoken.WithEarlyRefresh(0), shoptoken.WithMinInterval(0)}
	a := newCache(t, p, append(opts, shoptoken.WithStore(fs), shoptoken.WithKey(fk("test/fleet/k")), shoptoken.WithBackoff(time.Second, time.Second))...)
	t.Cleanup(a.Close)
	t1, err := a.Token(ctx)
	require.NoError(t, err)

	fs.down.Store(true)
	t2, err := a.Invalidate(ctx, t1)
	require.NoError(t, err)
	require.True(t, a.Pending(), "t2 waits to be saved")
	b := newCache(t, p, append(opts, shoptoken.WithStore(ms), shoptoken.WithKey(fk("test/fleet/k")))...)
	t.Cleanup(b.Close)
	_, err = b.Invalidate(ctx, t1)
	require.NoError(t, err)
	t3, _, err := ms.Load(ctx, "test/fleet/k")
	require.NoError(t, err)
	require.Equal(t, "tok-3", t3.AccessToken)
	fs.down.Store(false)

	got, err := a.Invalidate(ctx, t2)
	require.NoError(t, err)
	require.Equal(t, t3.AccessToken, got.AccessToken, "A adopts the fleet's newer token")
	require.Equal(t, 3, p.count())

	time.Sleep(1500 * time.Millisecond) // A's background retry has run
	stored, v, err := ms.Load(ctx, "test/fleet/k")
	require.NoError(t, err)
	assert.Equal(t, t3.AccessToken, stored.AccessToken,
		"the store went back from %s to %s (version %d): adopting %s did not clear the pending save of %s, "+
			"which then succeeded with the version of the adopted token", t3.AccessToken, stored.AccessToken, v,
		t3.AccessToken, t2.AccessToken)
	assert.Equal(t, t3.AccessToken, a.Current().AccessToken)
}

// TestCache_storeLostData_noRefetch: after the store lost the key and another process saved a new
// token (version 1 again), a Cache that held version 3 must adopt that token instead of calling
// the platform, when it is told its own token was rejected.
func TestCache_storeLostData_noRefetch(t *testing.T) {
	f := newFleet(t)
	ctx := context.Background()
	const key = "test/fleet/lost"
	p := &fakePlatform{life: time.Hour, issued: map[string]time.Time{}}
	opts := []shoptoken.Option{shoptoken.WithEarlyRefresh(0), shoptoken.WithMinInterval(0)}
	a := newCache(t, p, append(opts, shoptoken.WithStore(f.store()), shoptoken.WithKey(fk(key)))...)
	t.Cleanup(a.Close)
	t1, err := a.Token(ctx)
	require.NoError(t, err)
	t2, err := a.Invalidate(ctx, t1)
	require.NoError(t, err)
	t3, err := a.Invalidate(ctx, t2)
	require.NoError(t, err)
	_, v, err := f.store().Load(ctx, key)
	require.NoError(t, err)
	require.EqualValues(t, 3, v)

	f.loseKey(key)
	b := newCache(t, p, append(opts, shoptoken.WithStore(f.store()), shoptoken.WithKey(fk(key)))...)
	t.Cleanup(b.Close)
	t4, err := b.Token(ctx)
	require.NoError(t, err)
	require.Equal(t, 4, p.count())

	got, err := a.Invalidate(ctx, t3)
	require.NoError(t, err)
	assert.Equal(t, t4.AccessToken, got.AccessToken, "A adopts the fleet's token")
	assert.Equal(t, 4, p.count(), "platform calls: the stored token was valid and newer than the "+
		"rejected one, but A ignored it because its version (1) is below the one A remembers (3)")
}

// TestCache_storeLostData_staleSaveKeepsNewest: after the store lost the key, a Cache's delayed
// save must not overwrite a newer token just because the store's version has climbed back to the
// number the Cache remembers.
//
// Cache A holds version 2. Its next token, t3, fails to save (A's store is unreachable) and is
// retried in the background. Meanwhile Redis loses the key, and process B saves t4 (version 1)
// and t5 (version 2). Then A's store is reachable again and its retry runs Save(t3, prev 2).
func TestCache_storeLostData_staleSaveKeepsNewest(t *testing.T) {
	f := newFleet(t)
	ctx := context.Background()
	const key = "test/fleet/lost"
	p := &fakePlatform{life: time.Hour, issued: map[string]time.Time{}}
	opts := []shoptoken.Option{shoptoken.WithEarlyRefresh(0), shoptoken.WithMinInterval(0)}
	fs := &flakyStore{Store: f.store()}
	a := newCache(t, p, append(opts, shoptoken.WithStore(fs), shoptoken.WithKey(fk(key)),
		shoptoken.WithBackoff(time.Second, time.Second))...) // first retry 0.5–1 s after the failure
	t.Cleanup(a.Close)
	t1, err := a.Token(ctx)
	require.NoError(t, err)
	t2, err := a.Invalidate(ctx, t1)
	require.NoError(t, err)

	fs.down.Store(true)
	t3, err := a.Invalidate(ctx, t2)
	require.NoError(t, err)
	f.loseKey(key)
	b := newCache(t, p, append(opts, shoptoken.WithStore(f.store()), shoptoken.WithKey(fk(key)))...)
	t.Cleanup(b.Close)
	t4, err := b.Token(ctx)
	require.NoError(t, err)
	t5, err := b.Invalidate(ctx, t4)
	require.NoError(t, err)
	view := f.store()
	_, v, err := view.Load(ctx, key)
	require.NoError(t, err)
	require.EqualValues(t, 2, v)
	fs.down.Store(false)

	time.Sleep(1500 * time.Millisecond) // A's retry has run
	stored, v, err := view.Load(ctx, key)
	require.NoError(t, err)
	assert.Equal(t, t5.AccessToken, stored.AccessToken,
		"the store went back from %s (the newest token, version 2) to %s (older, issued before the data loss), "+
			"now version %d: A's Save(prev 2) matched the new incarnation's version 2", t5.AccessToken, t3.AccessToken, v)
}

// loseKey deletes key's token hash the way a Redis restart without persistence would: no
// tombstone, so its versions start again at 1 (redisstore's documented key layout).
func (f *fleet) loseKey(key string) {
	f.t.Helper()
	require.NoError(f.t, f.rdb.Unlink(context.Background(), f.prefix+"{"+key+"}:tok").Err())
}

var errStoreDown = errors.New("fleettest: store unreachable")

// flakyStore is a Store that fails every call while down is set. It does not pass on Locker or
// Watcher, so the Cache refreshes without a lease.
type flakyStore struct {
	shoptoken.Store
	down atomic.Bool
}

func (s *flakyStore) Load(ctx context.Context, key string) (*shoptoken.Token, int64, error) {
	if s.down.Load() {
		return nil, 0, errStoreDown
	}
	return s.Store.Load(ctx, key)
}

func (s *flakyStore) Save(ctx context.Context, key string, tok *shoptoken.Token, prev int64) (int64, error) {
	if s.down.Load() {
		return 0, errStoreDown
	}
	return s.Store.Save(ctx, key, tok, prev)
}

func (s *flakyStore) Delete(ctx context.Context, key string) error {
	if s.down.Load() {
		return errStoreDown
	}
	return s.Store.Delete(ctx, key)
}

// TestCache_damagedRedisValue_repaired: Redis holds something under the key that is not a token
// (garbage, or a version no store may hand out). Two processes and 40 callers get tokens, one
// platform call is made, and the damage is replaced so that the key reads again.
func TestCache_damagedRedisValue_repaired(t *testing.T) {
	for name, fields := range map[string][]any{
		"garbage":          {"v", "3", "tok", "not a token"},
		"version MaxInt64": {"v", "9223372036854775807", "tok", `{"access_token":"old-0123456789"}`},
		"version float":    {"v", "9.2233720368547758e+18", "tok", `{"access_token":"old-0123456789"}`},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFleet(t)
			ctx := context.Background()
			const key = "test/fleet/damaged"
			require.NoError(t, f.rdb.HSet(ctx, f.prefix+"{"+key+"}:tok", fields...).Err())
			p := &fakePlatform{life: time.Hour, issued: map[string]time.Time{}}
			var corrupt atomic.Int64
			opts := []shoptoken.Option{shoptoken.WithMinInterval(0), shoptoken.WithEvents(func(e shoptoken.Event) {
				if e.Kind == shoptoken.EventStoreCorrupt {
					corrupt.Add(1)
				}
			})}
			a := newCache(t, p, append(opts, shoptoken.WithStore(f.store()), shoptoken.WithKey(fk(key)))...)
			b := newCache(t, p, append(opts, shoptoken.WithStore(f.store()), shoptoken.WithKey(fk(key)))...)
			t.Cleanup(a.Close)
			t.Cleanup(b.Close)
			var wg sync.WaitGroup
			var errs atomic.Int64
			for i := range 40 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c := a
					if i%2 == 1 {
						c = b
					}
					if _, err := c.Token(ctx); err != nil {
						errs.Add(1)
					}
				}()
			}
			wg.Wait()
			assert.Zero(t, errs.Load())
			assert.Equal(t, 1, p.count(), "platform calls")
			stored, v, err := f.store().Load(ctx, key)
			require.NoError(t, err, "the damage is replaced")
			assert.True(t, p.valid(stored.AccessToken))
			assert.Positive(t, v)
			assert.LessOrEqual(t, v, int64(shoptoken.MaxVersion))
			assert.Positive(t, corrupt.Load(), "reported")
			assert.False(t, a.Pending() || b.Pending(), "nothing left unsaved")
		})
	}
}
