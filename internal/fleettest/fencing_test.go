//go:build unix

package fleettest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/redisstore"
)

const (
	stallKey   = "test/fleet/stall"
	stallLease = time.Second // lease TTL of both holders; refresh timeout 500 ms
)

// TestFleet_leaseExpiry_fencing: a lease holder that stalls past its lease is fenced off by the
// store's version.
//
// Redis holds an expired token T0 at version 1. Child process A starts a Cache with a 1 s lease;
// its refresh takes the lease and, inside the refresher, A is frozen with SIGSTOP (a GC pause, a
// frozen VM: its lease renewal stops with it). The lease lapses; holder B (a Cache in this
// process) refreshes and saves B's token as version 2. Then A is resumed (SIGCONT) and its
// refresher returns A's late token.
//
// Asserted: the lease was held by A when it froze and lapsed while A was frozen; B made exactly one
// platform call and saved version 2; every Save A made with the version it read (1) failed and
// none succeeded, at least one of them with shoptoken.ErrConflict; A ends up holding B's token;
// Redis still holds B's token at version 2.
//
// Because the engine keeps the lease longer than the refresh timeout, a holder stalled past its
// lease has also outlived its refresh's context. go-redis applies context deadlines to commands
// only with Options.ContextTimeoutEnabled, which is off here (the default), so A's Save is sent and
// meets ErrConflict at once. With it on, that Save fails on the context instead, A serves its late
// token from memory for one backoff (persist's documented fallback), and the background save
// retry meets ErrConflict; the assertions hold either way.
func TestFleet_leaseExpiry_fencing(t *testing.T) {
	f := newFleet(t)
	ctx := context.Background()
	store := f.store()
	_, err := store.Save(ctx, stallKey, &shoptoken.Token{AccessToken: "T0", Expiry: time.Now().Add(-time.Minute)}, 0)
	require.NoError(t, err)

	a := f.startChild("stall", "A", "")
	pid := a.cmd.Process.Pid
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGCONT) })
	waitFor(t, 20*time.Second, "A to be inside its refresh", func() (bool, string) {
		if a.exited() {
			t.Fatalf("A exited (%v):\n%s", a.err, a.out.String())
		}
		n, _ := f.rdb.Exists(ctx, f.key("stall:refreshing")).Result()
		return n == 1, "A's refresher has not started"
	})
	leaseKey := f.prefix + "{" + stallKey + "}:lease" // redisstore's documented key layout
	require.NoError(t, syscall.Kill(pid, syscall.SIGSTOP))
	frozen := time.Now()
	held, err := f.rdb.Exists(ctx, leaseKey).Result()
	require.NoError(t, err)
	require.EqualValues(t, 1, held, "A holds the lease when it freezes")
	waitFor(t, 5*stallLease, "A's lease to lapse", func() (bool, string) {
		n, _ := f.rdb.Exists(ctx, leaseKey).Result()
		return n == 0, "the lease is still there"
	})
	lapsed := time.Since(frozen)

	var calls int
	var mu sync.Mutex
	b := newCache(t, shoptoken.RefresherFunc(func(context.Context, *shoptoken.Token, shoptoken.Reason) (*shoptoken.Token, error) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		return &shoptoken.Token{AccessToken: "B-token", Expiry: time.Now().Add(time.Hour)}, nil
	}), shoptoken.WithStore(f.store()), shoptoken.WithKey(fk(stallKey)), shoptoken.WithRefreshTimeout(stallLease/2),
		shoptoken.WithLeaseTTL(stallLease), shoptoken.WithEarlyRefresh(0), shoptoken.WithMinInterval(0))
	t.Cleanup(b.Close)
	bctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	tok, err := b.Token(bctx)
	require.NoError(t, err)
	assert.Equal(t, "B-token", tok.AccessToken)
	stored, v, err := store.Load(ctx, stallKey)
	require.NoError(t, err)
	require.Equal(t, "B-token", stored.AccessToken)
	require.EqualValues(t, 2, v)

	require.NoError(t, f.rdb.Set(ctx, f.key("stall:resume"), "1", 0).Err())
	require.NoError(t, syscall.Kill(pid, syscall.SIGCONT))
	resumed := time.Now()
	current := func() string { s, _ := f.rdb.Get(ctx, f.key("stall:current")).Result(); return s }
	waitFor(t, 10*time.Second, "A to adopt B's token", func() (bool, string) {
		if a.exited() {
			t.Fatalf("A exited (%v):\n%s", a.err, a.out.String())
		}
		return current() == "B-token", "A holds " + current()
	})
	adopted := time.Since(resumed)
	f.stopChildren(a)

	saves, err := f.rdb.LRange(ctx, f.key("stall:saves"), 0, -1).Result()
	require.NoError(t, err)
	events, _ := f.rdb.Get(ctx, f.key("stall:events")).Result()
	first, _ := f.rdb.Get(ctx, f.key("stall:first")).Result()
	t.Logf("A frozen at %v, lease lapsed %v later; A resumed, first answer %q, adopted B's token %v later; A's saves (newest first): %q; A's events: %s",
		frozen.Format("15:04:05.000"), lapsed.Round(time.Millisecond), first, adopted.Round(time.Millisecond), saves, events)

	require.NotEmpty(t, saves, "A tried to save its late token")
	conflicts := 0
	for _, s := range saves {
		assert.True(t, strings.HasPrefix(s, "A-late prev=1 "), "A saves with the version it read: %s", s)
		assert.NotContains(t, s, "ok v=", "no Save of A's late token may succeed")
		if strings.HasSuffix(s, "conflict") {
			conflicts++
		}
	}
	assert.Positive(t, conflicts, "A's late Save was rejected with ErrConflict")
	assert.Equal(t, 1, calls, "B called the platform once")
	stored, v, err = store.Load(ctx, stallKey)
	require.NoError(t, err)
	assert.Equal(t, "B-token", stored.AccessToken, "A's late token never reached Redis")
	assert.EqualValues(t, 2, v)
}

// runStallChild is holder A: a Cache whose refresher announces that it is running
// (stall:refreshing) and then waits for stall:resume, so that the parent can freeze it inside its
// refresh with SIGSTOP. Every Save is recorded in stall:saves, events in stall:events, the first
// Token answer in stall:first, and the current token in stall:current every 10 ms until stopped.
func runStallChild(e *childEnv) error {
	ctx := context.Background()
	srdb := redis.NewClient(&redis.Options{Addr: os.Getenv(envRedis)})
	rs := redisstore.New(srdb, redisstore.WithPrefix(e.prefix))
	defer rs.Close()
	var mu sync.Mutex
	var events []string
	c, err := shoptoken.NewCache(shoptoken.RefresherFunc(func(context.Context, *shoptoken.Token, shoptoken.Reason) (*shoptoken.Token, error) {
		e.rdb.Set(ctx, e.key("stall:refreshing"), "1", 0)
		for {
			// The parent freezes the process here; the platform answered just before.
			if n, _ := e.rdb.Exists(ctx, e.key("stall:resume")).Result(); n == 1 {
				return &shoptoken.Token{AccessToken: "A-late", Expiry: time.Now().Add(time.Hour)}, nil
			}
			time.Sleep(10 * time.Millisecond)
		}
	}), shoptoken.WithStore(&recordingStore{Store: rs, e: e}), shoptoken.WithKey(fk(stallKey)),
		shoptoken.WithRefreshTimeout(stallLease/2), shoptoken.WithLeaseTTL(stallLease),
		shoptoken.WithEarlyRefresh(0), shoptoken.WithMinInterval(0),
		shoptoken.WithBackoff(100*time.Millisecond, 200*time.Millisecond),
		shoptoken.WithEvents(func(ev shoptoken.Event) {
			name := ""
			if ev.Token != nil {
				name = ev.Token.AccessToken
			}
			mu.Lock()
			events = append(events, ev.Kind.String()+"("+name+")")
			mu.Unlock()
		}))
	if err != nil {
		return err
	}
	defer c.Close()
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	first := ""
	if tok, err := c.Token(tctx); err != nil {
		first = "error: " + err.Error()
	} else {
		first = tok.AccessToken
	}
	e.rdb.Set(ctx, e.key("stall:first"), first, 0)
	for sleepCtx(e.ctx, 10*time.Millisecond) {
		cur := ""
		if tok := c.Current(); tok != nil {
			cur = tok.AccessToken
		}
		mu.Lock()
		evs := strings.Join(events, " ")
		mu.Unlock()
		e.rdb.Set(ctx, e.key("stall:current"), cur, 0)
		e.rdb.Set(ctx, e.key("stall:events"), evs, 0)
	}
	return nil
}

// recordingStore is a redisstore.Store (Locker and Watcher included) that records the outcome of
// every Save in the stall:saves list: "TOKEN prev=N ok v=M", "TOKEN prev=N conflict" or
// "TOKEN prev=N error: ...".
type recordingStore struct {
	*redisstore.Store
	e *childEnv
}

func (s *recordingStore) Save(ctx context.Context, key string, tok *shoptoken.Token, prev int64) (int64, error) {
	v, err := s.Store.Save(ctx, key, tok, prev)
	rec := fmt.Sprintf("%s prev=%d ", tok.AccessToken, prev)
	switch {
	case err == nil:
		rec += fmt.Sprintf("ok v=%d", v)
	case errors.Is(err, shoptoken.ErrConflict):
		rec += "conflict"
	default:
		rec += "error: " + err.Error()
	}
	s.e.rdb.LPush(context.Background(), s.e.key("stall:saves"), rec)
	return v, err
}
