package redisstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shoptoken/shoptoken/seal"
)

// redisAddr is the Redis the tests use: REDIS_ADDR, or 127.0.0.1:6379.
func redisAddr() string {
	if a := os.Getenv("REDIS_ADDR"); a != "" {
		return a
	}
	return "127.0.0.1:6379"
}

// newClient returns a client of the test Redis, closed at cleanup. Without a reachable Redis the
// test is skipped, or fails when SHOPTOKEN_REQUIRE_REDIS=1.
func newClient(tb testing.TB, name string) *redis.Client {
	tb.Helper()
	if err := probe(); err != nil {
		msg := fmt.Sprintf("redisstore: no Redis at %s (set REDIS_ADDR); these tests need a real Redis", redisAddr())
		if os.Getenv("SHOPTOKEN_REQUIRE_REDIS") == "1" {
			tb.Fatalf("%s: %v", msg, err)
		}
		tb.Skip(msg)
	}
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr(), ClientName: name})
	tb.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// probe pings the test Redis once per test binary.
var probe = sync.OnceValue(func() error {
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr(), MaxRetries: -1, DialerRetries: 1})
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return rdb.Ping(ctx).Err()
})

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// testEnv is one test's share of Redis: a random prefix whose keys are deleted at cleanup.
type testEnv struct {
	tb     testing.TB
	prefix string
	name   string // client name of the env's connections, to find them in CLIENT LIST
	admin  *redis.Client
}

func newEnv(tb testing.TB) *testEnv {
	tb.Helper()
	e := &testEnv{tb: tb, prefix: "shoptoken-test:" + randomHex(6) + ":", name: "stt-" + randomHex(6)}
	e.admin = newClient(tb, e.name+"-admin")
	tb.Cleanup(func() {
		ctx := context.Background()
		iter := e.admin.Scan(ctx, 0, e.prefix+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
			if len(keys) == 1000 {
				e.admin.Unlink(ctx, keys...)
				keys = keys[:0]
			}
		}
		if len(keys) > 0 {
			e.admin.Unlink(ctx, keys...)
		}
	})
	return e
}

// store returns a Store on a client of its own, as another process would have.
func (e *testEnv) store(opts ...Option) *Store {
	e.tb.Helper()
	rdb := newClient(e.tb, e.name)
	s := New(rdb, append([]Option{WithPrefix(e.prefix)}, opts...)...)
	e.tb.Cleanup(func() { _ = s.Close() })
	return s
}

// Test-only options.
func withoutPubSub() Option  { return func(c *config) { c.noPubSub = true } }
func withoutRenewal() Option { return func(c *config) { c.noRenew = true } }
func withHealthCheck(d time.Duration) Option {
	return func(c *config) { c.health = d }
}

// testSealKey returns a seal key named id whose secret is derived from id.
func testSealKey(id string) seal.Key {
	return seal.Key{ID: id, Secret: bytes.Repeat([]byte(id[:1]), 32)}
}

// testKeyring returns a keyring of testSealKey(id) for each id, the first current.
func testKeyring(tb testing.TB, ids ...string) *seal.Keyring {
	tb.Helper()
	keys := make([]seal.Key, len(ids))
	for i, id := range ids {
		keys[i] = testSealKey(id)
	}
	kr, err := seal.New(keys[0], keys[1:]...)
	if err != nil {
		tb.Fatal(err)
	}
	return kr
}
