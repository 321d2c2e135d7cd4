package fleettest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shoptoken/shoptoken"
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

// fleet is one test's share of Redis: a random prefix whose keys are deleted at cleanup, and the
// child processes it started, killed at cleanup if still running.
type fleet struct {
	t      *testing.T
	prefix string
	rdb    *redis.Client

	mu       sync.Mutex
	children []*child
}

func newFleet(t *testing.T) *fleet {
	t.Helper()
	f := &fleet{t: t, prefix: "shoptoken-fleettest:" + randomHex(6) + ":", rdb: newRedisClient(t)}
	t.Cleanup(func() {
		f.mu.Lock()
		kids := f.children
		f.mu.Unlock()
		for _, c := range kids {
			c.kill()
		}
		deletePrefix(f.rdb, f.prefix)
	})
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

// child is a copy of the test binary running TestHelperProcess in some role.
type child struct {
	name string
	cmd  *exec.Cmd
	out  syncBuffer
	done chan struct{}
	err  error // Wait's result, once done is closed
}

// startChild re-executes the test binary as a child playing role, with env (KEY=value) added.
func (f *fleet) startChild(role, name, url string, env ...string) *child {
	f.t.Helper()
	c := &child{name: name, done: make(chan struct{})}
	c.cmd = exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1", "-test.v=false")
	c.cmd.Env = append(os.Environ(),
		envRole+"="+role, envRedis+"="+redisAddr(), envPrefix+"="+f.prefix, envURL+"="+url, envChild+"="+name)
	c.cmd.Env = append(c.cmd.Env, env...)
	c.cmd.Stdout, c.cmd.Stderr = &c.out, &c.out
	if err := c.cmd.Start(); err != nil {
		f.t.Fatalf("start child %s: %v", name, err)
	}
	go func() {
		c.err = c.cmd.Wait()
		close(c.done)
	}()
	f.mu.Lock()
	f.children = append(f.children, c)
	f.mu.Unlock()
	return c
}

// kill sends SIGKILL and waits for the process to be gone.
func (c *child) kill() {
	select {
	case <-c.done:
		return
	default:
	}
	_ = c.cmd.Process.Kill()
	<-c.done
}

func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// stopChildren asks every child to stop (the "stop" report key) and waits for them to exit
// cleanly, failing the test if one does not.
func (f *fleet) stopChildren(kids ...*child) {
	f.t.Helper()
	if err := f.rdb.Set(context.Background(), f.key("stop"), "1", 0).Err(); err != nil {
		f.t.Fatalf("set stop: %v", err)
	}
	deadline := time.After(20 * time.Second)
	for _, c := range kids {
		select {
		case <-c.done:
			if c.err != nil {
				f.t.Errorf("child %s exited with %v:\n%s", c.name, c.err, c.out.String())
			}
		case <-deadline:
			f.t.Errorf("child %s did not stop in time:\n%s", c.name, c.out.String())
			c.kill()
		}
	}
}

// failures returns the failure count the children reported and a few of their messages.
func (f *fleet) failures() (int64, []string) {
	ctx := context.Background()
	n, _ := f.rdb.Get(ctx, f.key("fail")).Int64()
	msgs, _ := f.rdb.LRange(ctx, f.key("errs"), 0, 9).Result()
	return n, msgs
}

// waitFor polls cond every 5 ms until it holds, or fails the test with what cond last said once
// timeout has passed.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	end := time.Now().Add(timeout)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("timed out after %v waiting for %s: %s", timeout, what, why)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.String()
	if len(s) > 4000 {
		s = "…" + s[len(s)-4000:]
	}
	return s
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

// sleepCtx sleeps d or until ctx ends; false if ctx ended.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
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
