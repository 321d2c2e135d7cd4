//go:build unix

package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
)

const stallLease = time.Second // lease TTL of both holders; refresh timeout 500 ms

// TestFleet_fencing: a lease holder that stalls past its lease is fenced off by the version, on
// each database.
//
// The store holds an expired token T0 at version 1. Child process A starts a Cache with a 1 s
// lease; its refresh takes the lease and, inside the refresher, A is frozen with SIGSTOP (a GC
// pause, a frozen VM: its lease renewal stops with it). The lease lapses by the database's clock;
// holder B (a Cache in this process) refreshes and saves B's token as version 2. Then A is
// resumed (SIGCONT) and its refresher returns A's late token.
//
// Asserted: A held the lease when it froze, and it lapsed while A was frozen; B made exactly one
// platform call and saved version 2; every Save A made carried the version it read (1) and failed
// with shoptoken.ErrConflict, none succeeded; A ends up holding B's token; the store still holds
// B's token at version 2.
func TestFleet_fencing(t *testing.T) {
	eachServer(t, func(t *testing.T, srv server) {
		e := newEnv(t, srv)
		p := newPlatform(t, 0)
		ctx := context.Background()
		store := e.store(t, 0)
		_, err := store.Save(ctx, fleetKey, &shoptoken.Token{AccessToken: "T0", Expiry: time.Now().Add(-time.Minute)}, 0)
		require.NoError(t, err)

		a := startChild(t, e, p, "stall", "A")
		pid := a.cmd.Process.Pid
		t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGCONT) })
		waitFor(t, 20*time.Second, "A to be inside its refresh", func() (bool, string) {
			if a.exited() {
				t.Fatalf("A exited (%v):\n%s", a.err, a.out.String())
			}
			return p.get("refreshing") == "1", "A's refresher has not started"
		})
		require.NoError(t, syscall.Kill(pid, syscall.SIGSTOP))
		frozen := time.Now()
		live := e.sql(`SELECT count(*) FROM {leases} WHERE store_key = $1 AND expires_at > now()`)
		if srv.d == MySQL {
			live = e.sql(`SELECT count(*) FROM {leases} WHERE store_key = ? AND expires_at > UTC_TIMESTAMP(6)`)
		}
		held := func() int {
			var n int
			require.NoError(t, e.admin.QueryRowContext(ctx, live, []byte(fleetKey)).Scan(&n))
			return n
		}
		require.Equal(t, 1, held(), "A holds the lease when it freezes")
		waitFor(t, 5*stallLease, "A's lease to lapse", func() (bool, string) {
			return held() == 0, "the lease is still live by the database's clock"
		})
		lapsed := time.Since(frozen)

		var calls int
		var mu sync.Mutex
		b, err := shoptoken.NewCache(shoptoken.RefresherFunc(func(context.Context, *shoptoken.Token, shoptoken.Reason) (*shoptoken.Token, error) {
			mu.Lock()
			defer mu.Unlock()
			calls++
			return &shoptoken.Token{AccessToken: "B-token", Expiry: time.Now().Add(time.Hour)}, nil
		}), shoptoken.WithKey(shoptoken.Key{Platform: "fleet", App: "app", Shop: "shop-1"}), shoptoken.WithStore(e.store(t, 1)),
			shoptoken.WithRefreshTimeout(stallLease/2), shoptoken.WithLeaseTTL(stallLease),
			shoptoken.WithEarlyRefresh(0), shoptoken.WithMinInterval(0))
		require.NoError(t, err)
		t.Cleanup(b.Close)
		bctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		tok, err := b.Token(bctx)
		require.NoError(t, err)
		assert.Equal(t, "B-token", tok.AccessToken)
		stored, v, err := store.Load(ctx, fleetKey)
		require.NoError(t, err)
		require.Equal(t, "B-token", stored.AccessToken)
		require.EqualValues(t, 2, v)

		p.set("resume", "1")
		require.NoError(t, syscall.Kill(pid, syscall.SIGCONT))
		resumed := time.Now()
		waitFor(t, 10*time.Second, "A to adopt B's token", func() (bool, string) {
			if a.exited() {
				t.Fatalf("A exited (%v):\n%s", a.err, a.out.String())
			}
			return p.get("current") == "B-token", "A holds " + p.get("current")
		})
		adopted := time.Since(resumed)
		stopChildren(t, p, a)

		saves := p.list("saves")
		t.Logf("A frozen at %v, its lease lapsed %v later; A resumed and adopted B's token %v later; A's saves: %q; A's first answer: %q",
			frozen.Format("15:04:05.000"), lapsed.Round(time.Millisecond), adopted.Round(time.Millisecond), saves, p.get("first"))
		require.NotEmpty(t, saves, "A tried to save its late token")
		for _, s := range saves {
			assert.Equal(t, "A-late prev=1 conflict", s, "A's late Save carries the version it read and is refused")
		}
		assert.Equal(t, 1, calls, "B called the platform once")
		stored, v, err = store.Load(ctx, fleetKey)
		require.NoError(t, err)
		assert.Equal(t, "B-token", stored.AccessToken, "A's late token never reached the database")
		assert.EqualValues(t, 2, v)
	})
}

// runStallChild is holder A: a Cache whose refresher announces that it is running ("refreshing")
// and then waits for "resume", so that the parent can freeze it inside its refresh. Every Save is
// recorded in "saves", the first Token answer in "first", and the current token in "current"
// every 10 ms until stopped.
func runStallChild(e *childEnv) error {
	ctx := context.Background()
	c, err := shoptoken.NewCache(shoptoken.RefresherFunc(func(context.Context, *shoptoken.Token, shoptoken.Reason) (*shoptoken.Token, error) {
		e.set("refreshing", "1")
		for e.get("resume") != "1" { // the parent freezes the process here
			time.Sleep(10 * time.Millisecond)
		}
		return &shoptoken.Token{AccessToken: "A-late", Expiry: time.Now().Add(time.Hour)}, nil
	}), shoptoken.WithKey(shoptoken.Key{Platform: "fleet", App: "app", Shop: "shop-1"}),
		shoptoken.WithStore(&recordingStore{Store: e.store, e: e}),
		shoptoken.WithRefreshTimeout(stallLease/2), shoptoken.WithLeaseTTL(stallLease),
		shoptoken.WithEarlyRefresh(0), shoptoken.WithMinInterval(0),
		shoptoken.WithBackoff(100*time.Millisecond, 200*time.Millisecond))
	if err != nil {
		return err
	}
	defer c.Close()
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if tok, err := c.Token(tctx); err != nil {
		e.set("first", "error: "+err.Error())
	} else {
		e.set("first", tok.AccessToken)
	}
	for sleep(e.ctx, 10*time.Millisecond) {
		cur := ""
		if tok := c.Current(); tok != nil {
			cur = tok.AccessToken
		}
		e.set("current", cur)
	}
	return nil
}

// recordingStore is a Store that records the outcome of every Save in the "saves" list: "TOKEN
// prev=N ok v=M", "TOKEN prev=N conflict" or "TOKEN prev=N error: ...".
type recordingStore struct {
	*Store
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
		rec += "error: " + strings.ReplaceAll(err.Error(), "\n", " ")
	}
	s.e.append("saves", rec)
	return v, err
}
