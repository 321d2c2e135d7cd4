package fleettest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/fleetproof"
	"github.com/shoptoken/shoptoken/internal/testkit"
	"github.com/shoptoken/shoptoken/redisstore"
)

// The environment of a child process: which role it plays and where the shared things are.
const (
	envRole   = "FLEETTEST_ROLE"   // "" in the parent: TestHelperProcess returns at once
	envRedis  = "FLEETTEST_REDIS"  // Redis address
	envPrefix = "FLEETTEST_PREFIX" // the test's key prefix (redisstore.WithPrefix and report keys)
	envURL    = "FLEETTEST_URL"    // the emulator's base URL
	envChild  = "FLEETTEST_CHILD"  // the child's name, e.g. "c2"
)

// redisAddr is the Redis the tests use: REDIS_ADDR, or 127.0.0.1:6379.
func redisAddr() string {
	if a := os.Getenv("REDIS_ADDR"); a != "" {
		return a
	}
	return "127.0.0.1:6379"
}

func requireRedis() bool { return os.Getenv("SHOPTOKEN_REQUIRE_REDIS") == "1" }

// newRedisClient returns a client of the test Redis, closed at cleanup. Without a reachable Redis
// the test is skipped, or fails when SHOPTOKEN_REQUIRE_REDIS=1.
func newRedisClient(tb testing.TB) *redis.Client {
	tb.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr(), PoolSize: 64})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		_ = rdb.Close()
		msg := fmt.Sprintf("fleettest: no Redis at %s (set REDIS_ADDR); these tests need a real Redis", redisAddr())
		if requireRedis() {
			tb.Fatalf("%s: %v", msg, err)
		}
		tb.Skip(msg)
	}
	tb.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// fleet is one test's share of Redis: a random prefix whose keys are deleted at cleanup, after
// the child processes it started are killed (testkit.StartChild kills them at cleanup).
type fleet struct {
	t      *testing.T
	prefix string
	rdb    *redis.Client
}

func newFleet(t *testing.T) *fleet {
	t.Helper()
	f := &fleet{t: t, prefix: "shoptoken-fleettest:" + randomHex(6) + ":", rdb: newRedisClient(t)}
	t.Cleanup(func() { deletePrefix(f.rdb, f.prefix) })
	return f
}

func deletePrefix(rdb *redis.Client, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
		if len(keys) == 1000 {
			rdb.Unlink(ctx, keys...)
			keys = keys[:0]
		}
	}
	if len(keys) > 0 {
		rdb.Unlink(ctx, keys...)
	}
}

// key names a report key of this test (under the prefix, so cleanup removes it).
func (f *fleet) key(name string) string { return f.prefix + "fleet:" + name }

// store returns a redisstore.Store on a client of its own, as another process would have.
func (f *fleet) store(opts ...redisstore.Option) *redisstore.Store {
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr()})
	s := redisstore.New(rdb, append([]redisstore.Option{redisstore.WithPrefix(f.prefix)}, opts...)...)
	f.t.Cleanup(func() {
		_ = s.Close()
		_ = rdb.Close()
	})
	return s
}

// startChild re-executes the test binary as a child playing role, with env (KEY=value) added.
func (f *fleet) startChild(role, name, url string, env ...string) *testkit.Child {
	f.t.Helper()
	return testkit.StartChild(f.t, name, "TestHelperProcess", append([]string{envRole + "=" + role,
		envRedis + "=" + redisAddr(), envPrefix + "=" + f.prefix, envURL + "=" + url, envChild + "=" + name}, env...)...)
}

// stopChildren asks every child to stop (the "stop" report key) and waits for them to exit
// cleanly, failing the test if one does not.
func (f *fleet) stopChildren(kids ...*testkit.Child) {
	f.t.Helper()
	if err := f.rdb.Set(context.Background(), f.key("stop"), "1", 0).Err(); err != nil {
		f.t.Fatalf("set stop: %v", err)
	}
	testkit.WaitChildren(f.t, 20*time.Second, kids...)
}

// failures returns the failure count the children reported and a few of their messages.
func (f *fleet) failures() (int64, []string) {
	ctx := context.Background()
	n, _ := f.rdb.Get(ctx, f.key("fail")).Int64()
	msgs, _ := f.rdb.LRange(ctx, f.key("errs"), 0, 9).Result()
	return n, msgs
}

// TestHelperProcess is the body of every child process. It does nothing unless the test binary
// was started by startChild, which sets FLEETTEST_ROLE.
func TestHelperProcess(t *testing.T) {
	role := os.Getenv(envRole)
	if role == "" {
		return
	}
	env, err := newChildEnv()
	if err == nil {
		switch role {
		case "vvtool":
			err = runVVToolChild(env)
		case "veapi":
			err = runVeapiChild(env)
		case "veapi-late":
			err = runVeapiLateChild(env)
		case "stall":
			err = runStallChild(env)
		default:
			err = fmt.Errorf("unknown role %q", role)
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "child %s (%s): %v\n", os.Getenv(envChild), role, err)
		os.Exit(3)
	}
	os.Exit(0)
}

// childEnv is what a child knows: its name, the shared Redis, the report keys and the emulator.
type childEnv struct {
	name   string
	prefix string
	url    string
	rdb    *redis.Client
	ctx    context.Context // ends when the parent sets the stop key
}

func newChildEnv() (*childEnv, error) {
	e := &childEnv{name: os.Getenv(envChild), prefix: os.Getenv(envPrefix), url: os.Getenv(envURL)}
	e.rdb = redis.NewClient(&redis.Options{Addr: os.Getenv(envRedis), PoolSize: 32})
	pctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.rdb.Ping(pctx).Err(); err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	ctx, stop := context.WithCancel(context.Background())
	e.ctx = ctx
	go func() {
		for {
			if n, _ := e.rdb.Exists(context.Background(), e.key("stop")).Result(); n == 1 {
				stop()
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	return e, nil
}

func (e *childEnv) key(name string) string { return e.prefix + "fleet:" + name }

// fail records one failure seen by a caller, for the parent to assert on.
func (e *childEnv) fail(format string, args ...any) {
	ctx := context.Background()
	msg := e.name + ": " + fmt.Sprintf(format, args...)
	if len(msg) > 600 {
		msg = msg[:600] + "…"
	}
	pipe := e.rdb.Pipeline()
	pipe.Incr(ctx, e.key("fail"))
	pipe.LPush(ctx, e.key("errs"), msg)
	pipe.LTrim(ctx, e.key("errs"), 0, 19)
	_, _ = pipe.Exec(ctx)
}

func short(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

// newCache is shoptoken.NewCache for tests: a construction error fails the test.
func newCache(tb testing.TB, r shoptoken.Refresher, opts ...shoptoken.Option) *shoptoken.Cache {
	tb.Helper()
	c, err := shoptoken.NewCache(r, opts...)
	if err != nil {
		tb.Fatalf("NewCache: %v", err)
	}
	return c
}

// fk is the Key whose String is key, a "platform/app/shop" string of a test.
func fk(key string) shoptoken.Key {
	k, err := shoptoken.ParseKey(key)
	if err != nil {
		panic("fleettest: bad test key " + key) // a typo in a test's constant
	}
	return k
}

// stallKey is the key of the fencing proof.
const stallKey = "test/fleet/stall"

// runStallChild is holder A of the fencing proof (fleetproof.RunStall) on its own Redis client.
func runStallChild(e *childEnv) error {
	srdb := redis.NewClient(&redis.Options{Addr: os.Getenv(envRedis)})
	defer srdb.Close()
	rs := redisstore.New(srdb, redisstore.WithPrefix(e.prefix))
	defer rs.Close()
	return fleetproof.RunStall(fleetproof.Dial(), rs, fk(stallKey))
}
