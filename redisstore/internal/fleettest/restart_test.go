package fleettest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/testkit"
	"github.com/shoptoken/shoptoken/redisstore"
)

const (
	restartLife  = 3 * time.Second         // token lifetime on the fake platform
	restartEarly = 1500 * time.Millisecond // refresh ahead: capped at half the life, so every 1.5–1.65 s
	// restartCycle is the shortest time between two refreshes of one token chain: a token lives
	// 3 s and its planned refresh is at most 1.5 s (half its life) ahead of expiry.
	restartCycle = restartLife - restartEarly
)

// TestFleet_redisRestart: Redis dies under a fleet and comes back empty.
//
// 8 Caches (each with its own Redis client and redisstore.Store, as 8 processes would have) × 25
// goroutines call Token on one key against a separate redis-server started for this test. The
// platform is a counted fake issuing 3-second tokens, refreshed 1.5 s ahead. After 3 s the
// redis-server is SIGKILLed; 4 s later it is started again, empty, on the same port.
//
// Asserted: no caller ever gets an error or a token the platform does not accept (static
// stability: each Cache refreshes on its own while the store is down); after the restart the fleet
// converges within 10 s: every Cache holds the same token, Redis holds it, and the platform accepts
// it; and the platform fetches are bounded, phase by phase:
//
//   - Redis up: the fleet shares one refresh per token lifetime, so at most 1 + ⌈d/1.5 s⌉ fetches
//     in d (1.5 s is the shortest refresh cycle, restartCycle);
//   - Redis down: each Cache refreshes alone, at most 8 × (⌈d/1.5 s⌉ + 1);
//   - after the restart, until converged: the background save of a Cache whose save failed writes
//     its token into the empty Redis and the others adopt it, so no fetch is needed; the bound
//     allows the fleet's one planned refresh per 1.5 s, plus 1 (coordinated, as with Redis up);
//   - then 3 s of steady state: coordinated again, at most 1 + ⌈3 s/1.5 s⌉.
//
// The Redis clients have a pool of 1000 connections so that go-redis does not stop dialing for a
// second after PoolSize failed dials (its dial backoff): that would keep a Cache from seeing the
// restarted Redis, and a Cache that cannot see it rightly refreshes alone. Context deadlines are
// not applied by go-redis here; the clients' 500 ms read and write timeouts bound each command.
func TestFleet_redisRestart(t *testing.T) {
	const (
		caches     = 8
		goroutines = 25
	)
	srv := startRedisServer(t)
	ctx := context.Background()
	p := &fakePlatform{life: restartLife, issued: map[string]time.Time{}}
	prefix := "shoptoken-fleettest:" + randomHex(6) + ":"
	const key = "test/fleet/restart"

	var events eventLog
	cs := make([]*shoptoken.Cache, caches)
	for i := range cs {
		rdb := redis.NewClient(&redis.Options{Addr: srv.addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond, PoolSize: 1000,
			ReadTimeout: 500 * time.Millisecond, WriteTimeout: 500 * time.Millisecond})
		st := redisstore.New(rdb, redisstore.WithPrefix(prefix), redisstore.WithPollInterval(100*time.Millisecond))
		cs[i] = newCache(t, p, shoptoken.WithStore(st), shoptoken.WithKey(fk(key)), shoptoken.WithEvents(func(e shoptoken.Event) {
			events.add(i, e)
		}),
			shoptoken.WithEarlyRefresh(restartEarly), shoptoken.WithExpirySkew(100*time.Millisecond),
			shoptoken.WithMinInterval(100*time.Millisecond), shoptoken.WithRefreshTimeout(time.Second),
			shoptoken.WithLeaseTTL(1500*time.Millisecond), shoptoken.WithBackoff(100*time.Millisecond, 500*time.Millisecond))
		t.Cleanup(func() {
			cs[i].Close()
			_ = st.Close()
			_ = rdb.Close()
		})
	}
	admin := redis.NewClient(&redis.Options{Addr: srv.addr, MaxRetries: -1})
	t.Cleanup(func() { _ = admin.Close() })
	view := redisstore.New(admin, redisstore.WithPrefix(prefix))

	var calls, errs, invalid, maxLate atomic.Int64
	var errMu sync.Mutex
	var errSample []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, c := range cs {
		for range goroutines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					case <-time.After(time.Duration(5+rand.IntN(10)) * time.Millisecond):
					}
					cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
					tok, err := c.Token(cctx)
					cancel()
					calls.Add(1)
					switch {
					case err != nil:
						errs.Add(1)
						errMu.Lock()
						if len(errSample) < 5 {
							errSample = append(errSample, err.Error())
						}
						errMu.Unlock()
					default:
						if late := p.expiredFor(tok.AccessToken); late >= 0 {
							invalid.Add(1)
							for old := maxLate.Load(); int64(late) > old && !maxLate.CompareAndSwap(old, int64(late)); old = maxLate.Load() {
							}
						}
					}
				}
			}()
		}
	}
	stopCallers := sync.OnceFunc(func() {
		close(stop)
		wg.Wait()
	})
	t.Cleanup(stopCallers)

	phase := func(d time.Duration) (fetches int, took time.Duration) {
		before, at := p.count(), time.Now()
		time.Sleep(d)
		return p.count() - before, time.Since(at)
	}
	cycles := func(d time.Duration) int { return int((d + restartCycle - 1) / restartCycle) }

	upFetches, upTook := phase(3 * time.Second)
	srv.kill(t)
	downFetches, downTook := phase(4 * time.Second)
	before, restarted := p.count(), time.Now()
	events.on.Store(true) // from the restart on, for the log if the test fails
	srv.start(t)
	var converged string
	testkit.WaitFor(t, 10*time.Second, "the fleet to converge after the restart", func() (bool, string) {
		first := cs[0].Current()
		for i, c := range cs {
			if tok := c.Current(); tok == nil || tok.AccessToken != first.AccessToken {
				return false, fmt.Sprintf("cache 0 holds %v, cache %d holds %v", first, i, tok)
			}
		}
		stored, _, err := view.Load(ctx, key)
		if err != nil {
			return false, "store: " + err.Error()
		}
		if stored.AccessToken != first.AccessToken {
			return false, "the store holds " + stored.AccessToken + ", the caches " + first.AccessToken
		}
		converged = first.AccessToken
		return p.valid(first.AccessToken), first.AccessToken + " is not valid"
	})
	convergeFetches, convergeTook := p.count()-before, time.Since(restarted)
	events.on.Store(false)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the Caches' events from the restart (%s) until converged:\n%s", restarted.Format("05.000"), events.String())
		}
	})
	steadyFetches, steadyTook := phase(3 * time.Second)
	stopCallers()

	t.Logf("fetches: %d with Redis up (%v), %d with Redis down (%v), %d until converged on %s (%v after the restart), %d in steady state (%v); %d calls, %d errors, %d invalid tokens",
		upFetches, upTook.Round(time.Millisecond), downFetches, downTook.Round(time.Millisecond),
		convergeFetches, converged, convergeTook.Round(time.Millisecond), steadyFetches, steadyTook.Round(time.Millisecond),
		calls.Load(), errs.Load(), invalid.Load())
	assert.Zero(t, errs.Load(), "caller errors, e.g. %q", errSample)
	assert.Zero(t, invalid.Load(), "tokens handed out that the platform would reject (up to %v after their expiry)", time.Duration(maxLate.Load()))
	assert.LessOrEqual(t, upFetches, 1+cycles(upTook), "fetches while Redis was up")
	assert.LessOrEqual(t, downFetches, caches*(cycles(downTook)+1), "fetches while Redis was down")
	assert.LessOrEqual(t, convergeFetches, 1+cycles(convergeTook), "fetches until converged after the restart "+
		"(extra ones are thrown away for a stored token that the Cache ignores because of its version: see "+
		"TestCache_storeLostData_noRefetch and TestCache_saveRetry_adoptedTokenWins)")
	assert.LessOrEqual(t, steadyFetches, 1+cycles(steadyTook), "fetches in steady state after the restart")
	assert.Positive(t, downFetches, "the Caches refreshed during the outage")
}

// eventLog records the Caches' events while on is set.
type eventLog struct {
	on    atomic.Bool
	mu    sync.Mutex
	lines []string
}

func (l *eventLog) add(cache int, e shoptoken.Event) {
	if !l.on.Load() {
		return
	}
	tok := ""
	if e.Token != nil {
		tok = e.Token.AccessToken
	}
	line := fmt.Sprintf("%s cache %d %s %s v%d", e.Time.Format("05.000"), cache, e.Kind, tok, e.Version)
	if e.Err != nil {
		line += " " + e.Err.Error()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lines) < 500 {
		l.lines = append(l.lines, line)
	}
}

func (l *eventLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// fakePlatform issues numbered tokens that live for life, and says whether a token is valid.
type fakePlatform struct {
	life time.Duration

	mu     sync.Mutex
	n      int
	issued map[string]time.Time // token → expiry
}

func (p *fakePlatform) Refresh(context.Context, *shoptoken.Token, shoptoken.Reason) (*shoptoken.Token, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	now := time.Now()
	tok := &shoptoken.Token{AccessToken: "tok-" + strconv.Itoa(p.n), IssuedAt: now, Expiry: now.Add(p.life)}
	p.issued[tok.AccessToken] = tok.Expiry
	return tok, nil
}

func (p *fakePlatform) valid(tok string) bool { return p.expiredFor(tok) < 0 }

// expiredFor says how long ago tok expired; negative while it is valid. An unknown token counts
// as expired for an hour.
func (p *fakePlatform) expiredFor(tok string) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	exp, ok := p.issued[tok]
	if !ok {
		return time.Hour
	}
	return time.Since(exp)
}

func (p *fakePlatform) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

// redisServer is a redis-server of this test's own, on a free port, without persistence: killed
// and started again, it comes back empty.
type redisServer struct {
	bin, addr, port string
	cmd             *exec.Cmd
	out             testkit.LogBuffer
	done            chan struct{}
}

// startRedisServer starts a redis-server, killed at cleanup. Without the binary the test is
// skipped, or fails when SHOPTOKEN_REQUIRE_REDIS=1.
func startRedisServer(t *testing.T) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		msg := "fleettest: no redis-server binary on PATH; the Redis restart test starts its own Redis"
		if requireRedis() {
			t.Fatalf("%s: %v", msg, err)
		}
		t.Skip(msg)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	require.NoError(t, ln.Close())
	s := &redisServer{bin: bin, addr: "127.0.0.1:" + port, port: port}
	s.start(t)
	t.Cleanup(func() { s.kill(t) })
	return s
}

func (s *redisServer) start(t *testing.T) {
	t.Helper()
	s.cmd = exec.Command(s.bin, "--port", s.port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--daemonize", "no")
	s.cmd.Stdout, s.cmd.Stderr = &s.out, &s.out
	require.NoError(t, s.cmd.Start())
	done := make(chan struct{})
	s.done = done
	go func(cmd *exec.Cmd) {
		_ = cmd.Wait()
		close(done)
	}(s.cmd)
	rdb := redis.NewClient(&redis.Options{Addr: s.addr, MaxRetries: -1})
	defer rdb.Close()
	testkit.WaitFor(t, 10*time.Second, "redis-server to answer", func() (bool, string) {
		select {
		case <-done:
			t.Fatalf("redis-server exited:\n%s", s.out.String())
		default:
		}
		err := rdb.Ping(context.Background()).Err()
		return err == nil, fmt.Sprint(err)
	})
}

func (s *redisServer) kill(t *testing.T) {
	t.Helper()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		t.Errorf("redis-server did not exit:\n%s", strings.TrimSpace(s.out.String()))
	}
	s.cmd = nil
}
