package redisstore

import (
	"context"
	"fmt"
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

// warmScripts loads every script into Redis, as every process does once, so that the counts
// below are those of a running fleet.
func warmScripts(t *testing.T, s *Store) {
	t.Helper()
	ctx := context.Background()
	ll, err := s.TryLockLoad(ctx, "warm", time.Minute)
	require.NoError(t, err)
	ll.Unlock()
	_, err = s.Save(ctx, "warm", &shoptoken.Token{AccessToken: "t"}, 0)
	require.NoError(t, err)
	require.NoError(t, s.Delete(ctx, "warm"))
}

// TestKeeper_plannedRefresh_roundTrips: the Keeper of a process that holds nothing in memory
// renews a shop whose planned refresh is due. Per shop it costs 4 round trips: the Load of the
// cold Cache, TryLockLoad (lease and token in one script), the Save of the new token and the
// unlock; the sweep adds one ZRANGEBYSCORE for the due shops and one ZADD for their new due times,
// each shared by up to WithBatch shops.
func TestKeeper_plannedRefresh_roundTrips(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	s, c := e.countedStore(t)
	warmScripts(t, s)
	clk := fakeclock.New(time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC))
	var calls atomic.Int64
	pl := shops.Platform{Name: "veapi", App: "acct", Clock: clk,
		Refresher: func(string) (shoptoken.Refresher, error) {
			return shoptoken.RefresherFunc(func(context.Context, *shoptoken.Token, shoptoken.Reason) (*shoptoken.Token, error) {
				n := calls.Add(1)
				return &shoptoken.Token{AccessToken: fmt.Sprintf("new-%d", n), RefreshToken: fmt.Sprintf("rt-%d", n),
					IssuedAt: clk.Now(), Expiry: clk.Now().Add(time.Hour)}, nil
			}), nil
		},
		Options: []shoptoken.Option{shoptoken.WithEarlyRefresh(30 * time.Minute), shoptoken.WithJitter(0), shoptoken.WithMinInterval(0)}}
	a, err := shops.New(pl, shops.WithStore(s), shops.WithRate(1e9))
	require.NoError(t, err)
	defer a.Close()
	key := a.Key("shop-1")
	_, err = s.Save(ctx, key.String(), &shoptoken.Token{AccessToken: "old", RefreshToken: "rt-0",
		IssuedAt: clk.Now().Add(-50 * time.Minute), Expiry: clk.Now().Add(10 * time.Minute)}, 0)
	require.NoError(t, err)
	require.NoError(t, s.Schedule(ctx, a.Namespace(), shoptoken.Due{Key: key.String(), At: clk.Now().Add(-time.Minute)}))
	c.take()

	res, err := a.Sweep(ctx)
	require.NoError(t, err)
	n, cmds := c.take()
	assert.Equal(t, 1, res.Refreshed)
	assert.EqualValues(t, 1, calls.Load())
	assert.Equal(t, 6, n, "round trips of the sweep: %v", cmds)
	assert.Equal(t, []string{"zrangebyscore", "hmget", "evalsha", "evalsha", "evalsha", "zadd"}, cmds,
		"due shops, Load, TryLockLoad, Save, unlock, due times")
	stored, _, err := s.Load(ctx, key.String())
	require.NoError(t, err)
	assert.Equal(t, "new-1", stored.AccessToken)
}

// TestExpiredKey_fourProcesses_roundTripsPerWaiter: four processes hold the same expired token;
// all four ask for a token at once. The one that takes the lease makes the platform call (3
// round trips: TryLockLoad, Save, unlock); each of the three others makes 2 (TryLockLoad, then
// the Load that the holder's change notification triggers), plus its pub/sub subscription.
func TestExpiredKey_fourProcesses_roundTripsPerWaiter(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	key := shoptoken.Key{Platform: "vvtool", App: "acct"}
	seed := New(newClient(t, e.name), WithPrefix(e.prefix))
	t.Cleanup(func() { _ = seed.Close() })
	warmScripts(t, seed)
	expired := &shoptoken.Token{AccessToken: "expired", IssuedAt: time.Now().Add(-2 * time.Hour), Expiry: time.Now().Add(-time.Hour)}
	v, err := seed.Save(ctx, key.String(), expired, 0)
	require.NoError(t, err)

	var calls atomic.Int64
	release := make(chan struct{})
	platform := shoptoken.RefresherFunc(func(context.Context, *shoptoken.Token, shoptoken.Reason) (*shoptoken.Token, error) {
		calls.Add(1)
		<-release // every other process is waiting by now
		return &shoptoken.Token{AccessToken: "fresh", Expiry: time.Now().Add(time.Hour)}, nil
	})
	const procs = 4
	counters := make([]*tripCounter, procs)
	caches := make([]*shoptoken.Cache, procs)
	for i := range caches {
		rdb := newClient(t, e.name)
		counters[i] = &tripCounter{}
		rdb.AddHook(counters[i])
		st := New(rdb, WithPrefix(e.prefix))
		t.Cleanup(func() { _ = st.Close() })
		caches[i], err = shoptoken.NewCache(platform, shoptoken.WithKey(key), shoptoken.WithStore(st),
			shoptoken.WithStoredToken(expired, v), shoptoken.WithMinInterval(0), shoptoken.WithEarlyRefresh(0))
		require.NoError(t, err)
		t.Cleanup(caches[i].Close)
		counters[i].take()
	}
	var wg sync.WaitGroup
	for _, c := range caches {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok, err := c.Token(ctx)
			assert.NoError(t, err)
			if err == nil {
				assert.Equal(t, "fresh", tok.AccessToken)
			}
		}()
	}
	require.Eventually(t, func() bool { return calls.Load() == 1 }, 5*time.Second, time.Millisecond)
	time.Sleep(200 * time.Millisecond) // let the others find the lease held and wait
	close(release)
	wg.Wait()
	assert.EqualValues(t, 1, calls.Load(), "one platform call for four processes")
	var holder, waiters int
	for i := range counters {
		n, cmds := counters[i].take()
		switch n {
		case 3:
			holder++
		default:
			waiters++
			assert.LessOrEqual(t, n, 2, "round trips of waiter %d: %v", i, cmds)
		}
	}
	assert.Equal(t, 1, holder, "one lease holder")
	assert.Equal(t, procs-1, waiters)
}
