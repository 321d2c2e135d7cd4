package redisstore

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
)

// tripCounter is a go-redis hook that counts round trips: a command sent alone is one, and so is
// a pipeline, whatever it carries.
type tripCounter struct {
	mu    sync.Mutex
	trips int
	cmds  []string // every command sent, by name
}

func (c *tripCounter) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) { return next(ctx, network, addr) }
}

func (c *tripCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.note(cmd)
		return next(ctx, cmd)
	}
}

func (c *tripCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.note(cmds...)
		return next(ctx, cmds)
	}
}

// note counts one round trip carrying cmds. The handshake of a new connection (HELLO, CLIENT
// SETINFO) is left out: it is paid once per pooled connection, not per operation.
func (c *tripCounter) note(cmds ...redis.Cmder) {
	if handshake(cmds) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.trips++
	for _, cmd := range cmds {
		c.cmds = append(c.cmds, cmd.Name())
	}
}

func handshake(cmds []redis.Cmder) bool {
	for _, cmd := range cmds {
		switch cmd.Name() {
		case "hello", "client", "auth", "select":
		default:
			return false
		}
	}
	return true
}

// take returns the round trips and commands counted since the last take.
func (c *tripCounter) take() (int, []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, cmds := c.trips, c.cmds
	c.trips, c.cmds = 0, nil
	return n, cmds
}

// countedStore returns a Store whose client counts its round trips. Pub/sub is off, so that only
// the operation under test talks to Redis.
func (e *testEnv) countedStore(t *testing.T) (*Store, *tripCounter) {
	t.Helper()
	rdb := newClient(t, e.name)
	c := &tripCounter{}
	rdb.AddHook(c)
	s := New(rdb, WithPrefix(e.prefix), withoutPubSub())
	t.Cleanup(func() { _ = s.Close() })
	return s, c
}

// TestStore_roundTrips pins the round trips that doc.go promises, counted at the client.
func TestStore_roundTrips(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	s, c := e.countedStore(t)
	trips := func(t *testing.T, want int, what string) []string {
		t.Helper()
		n, cmds := c.take()
		names := map[string]int{}
		for _, name := range cmds {
			names[name]++
		}
		assert.Equal(t, want, n, "%s: round trips (commands %v)", what, names)
		return cmds
	}
	// Scripts are loaded on first use (EVALSHA, NOSCRIPT, EVAL): warm them up, as every process
	// does once.
	ll, err := s.TryLockLoad(ctx, "warm", time.Minute)
	require.NoError(t, err)
	ll.Unlock()
	_, err = s.Save(ctx, "k", &shoptoken.Token{AccessToken: "t"}, 0)
	require.NoError(t, err)
	require.NoError(t, s.Delete(ctx, "warm"))
	unlock, err := s.Lock(ctx, "warm", time.Minute)
	require.NoError(t, err)
	unlock()
	c.take()

	t.Run("Store", func(t *testing.T) {
		_, v, err := s.Load(ctx, "k")
		require.NoError(t, err)
		assert.Equal(t, []string{"hmget"}, trips(t, 1, "Load"))
		v, err = s.Save(ctx, "k", &shoptoken.Token{AccessToken: "t"}, v)
		require.NoError(t, err)
		trips(t, 1, "Save")
		require.NoError(t, s.Delete(ctx, "gone"))
		trips(t, 1, "Delete")
		unlock, err := s.Lock(ctx, "k", time.Minute)
		require.NoError(t, err)
		trips(t, 1, "Lock of a free lease")
		unlock()
		trips(t, 1, "unlock")
	})
	t.Run("TryLockLoad", func(t *testing.T) {
		ll, err := s.TryLockLoad(ctx, "k", time.Minute)
		require.NoError(t, err)
		require.NotNil(t, ll.Unlock)
		assert.Equal(t, "t", ll.Token.AccessToken)
		assert.Equal(t, []string{"evalsha"}, trips(t, 1, "TryLockLoad of a free lease"))
		other, err := s.TryLockLoad(ctx, "k", time.Minute)
		require.NoError(t, err)
		assert.Nil(t, other.Unlock)
		assert.Equal(t, "t", other.Token.AccessToken)
		trips(t, 1, "TryLockLoad of a held lease")
		ll.Unlock()
		trips(t, 1, "Unlock")
	})
	t.Run("DueIndex", func(t *testing.T) {
		for _, n := range []int{1, dueChunk, 2*dueChunk + 500} {
			dues := make([]shoptoken.Due, n)
			keys := make([]string, n)
			for i := range dues {
				keys[i] = fmt.Sprintf("p/a/%d", i)
				dues[i] = shoptoken.Due{Key: keys[i], At: time.Unix(int64(i), 0)}
			}
			require.NoError(t, s.Schedule(ctx, "p/a", dues...))
			cmds := trips(t, 1, fmt.Sprintf("Schedule of %d keys", n))
			assert.Equal(t, (n+dueChunk-1)/dueChunk, len(cmds), "one ZADD per %d keys", dueChunk)
			got, err := s.Due(ctx, "p/a", time.Unix(int64(n), 0), 0)
			require.NoError(t, err)
			assert.Len(t, got, n)
			trips(t, 1, "Due")
			require.NoError(t, s.Unschedule(ctx, "p/a", keys...))
			trips(t, 1, fmt.Sprintf("Unschedule of %d keys", n))
		}
		require.NoError(t, s.Schedule(ctx, "p/a"))
		require.NoError(t, s.Unschedule(ctx, "p/a"))
		trips(t, 0, "empty batches")
	})
	t.Run("LoadMany", func(t *testing.T) {
		const n = 2*loadBatch + 1
		keys := make([]string, n)
		for i := range keys {
			keys[i] = fmt.Sprintf("many:%d", i)
		}
		_, err := s.LoadMany(ctx, keys)
		require.NoError(t, err)
		cmds := trips(t, 3, fmt.Sprintf("LoadMany of %d keys (pipelines of %d)", n, loadBatch))
		assert.Equal(t, n, len(cmds), "one HMGET per key")
	})
}

// TestStore_dueLayout: each namespace has one sorted set, "<prefix>due:{<ns>}", holding full
// keys scored by Unix milliseconds, whatever the other namespaces hold.
func TestStore_dueLayout(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	s := e.store()
	at := time.UnixMilli(1_700_000_000_123)
	yz := shoptoken.Key{Platform: "youzan", App: "client-1"}
	ve := shoptoken.Key{Platform: "veapi", App: "acct{1}"}
	k1 := shoptoken.Key{Platform: yz.Platform, App: yz.App, Shop: "88888"}.String()
	k2 := shoptoken.Key{Platform: ve.Platform, App: ve.App, Shop: "88888"}.String()
	require.NoError(t, s.Schedule(ctx, yz.Namespace(), shoptoken.Due{Key: k1, At: at}))
	require.NoError(t, s.Schedule(ctx, ve.Namespace(), shoptoken.Due{Key: k2, At: at.Add(time.Second)}))

	keys, err := e.admin.Keys(ctx, e.prefix+"*").Result()
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{e.prefix + "due:{youzan/client-1}", e.prefix + "due:{veapi/acct%7B1%7D}"}, keys,
		"one sorted set per namespace; Key.Namespace escapes braces, so the whole namespace is the hash tag")
	zs, err := e.admin.ZRangeWithScores(ctx, e.prefix+"due:{youzan/client-1}", 0, -1).Result()
	require.NoError(t, err)
	assert.Equal(t, []redis.Z{{Score: 1_700_000_000_123, Member: "youzan/client-1/88888"}}, zs)
	got, err := s.Due(ctx, yz.Namespace(), at.Add(time.Hour), 0)
	require.NoError(t, err)
	assert.Equal(t, []string{k1}, got)
}
