package storetest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shoptoken/shoptoken"
)

// lockers returns the Lockers of Store and Peer, skipping t when Store is none.
func (e *env) lockers(t *testing.T) []shoptoken.Locker {
	t.Helper()
	return capable[shoptoken.Locker](t, e, "shoptoken.Locker")
}

// free reports whether a Lock of key succeeds within d (and releases it at once).
func free(ctx context.Context, lk shoptoken.Locker, key string, d time.Duration) (bool, error) {
	short, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	unlock, err := lk.Lock(short, key, time.Minute)
	if err == nil {
		unlock()
		return true, nil
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return false, nil
	}
	return false, err
}

func testLeaseExclusion(t *testing.T, e *env) {
	lks := e.lockers(t)
	ctx := testCtx(t)
	k := e.key("k")
	const workers, rounds = 8, 5
	var inside, most, total atomic.Int64
	var wg sync.WaitGroup
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				// A long ttl: a holder starved of CPU for a whole ttl would rightly lose its lease,
				// and this subtest is not about that.
				unlock, err := lks[i%2].Lock(ctx, k, 10*time.Second)
				if err != nil {
					t.Errorf("Lock: %v", err)
					return
				}
				n := inside.Add(1)
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
				time.Sleep(time.Millisecond)
				total.Add(1)
				inside.Add(-1)
				unlock()
			}
		}()
	}
	wg.Wait()
	if most.Load() != 1 || total.Load() != workers*rounds {
		t.Errorf("%d holders at once at most (want 1), %d of %d leases taken", most.Load(), total.Load(), workers*rounds)
	}

	// A lease on one key leaves the others free.
	unlock, err := lks[0].Lock(ctx, k, 10*time.Second)
	if err != nil {
		t.Fatalf("Lock: %v", err)
	}
	defer unlock()
	if ok, err := free(ctx, lks[1], e.key("other"), 5*time.Second); !ok {
		t.Errorf("a lease on %q blocks another key: %v", k, err)
	}
}

func testLeaseRenewal(t *testing.T, e *env) {
	lks := e.lockers(t)
	ctx := testCtx(t)
	k := e.key("k")
	// Renewed every ttl/3 by the usual scheme: a renewal that a loaded machine delays by up to a
	// second still keeps the lease.
	const ttl = 1500 * time.Millisecond
	unlock, err := lks[0].Lock(ctx, k, ttl)
	if err != nil {
		t.Fatalf("Lock: %v", err)
	}
	if ok, err := free(ctx, lks[1], k, 3*ttl); ok || err != nil {
		t.Errorf("a live holder's lease was taken after %v (ttl %v): got it %v, error %v; the holder must renew it", 3*ttl, ttl, ok, err)
	}
	unlock()
	if ok, err := free(ctx, lks[1], k, 10*time.Second); !ok {
		t.Errorf("Lock after unlock: %v", err)
	}
}

func testLeaseLapse(t *testing.T, e *env) {
	lks := e.lockers(t)
	if e.Stall == nil {
		t.Skip("storetest: Harness.Stall is nil")
	}
	ctx := testCtx(t)
	k := e.key("k")
	const ttl = 600 * time.Millisecond
	start := time.Now()
	if err := e.Stall(ctx, k, ttl); err != nil {
		t.Fatalf("Harness.Stall: %v", err)
	}
	if ok, err := free(ctx, lks[0], k, ttl/6); ok || err != nil {
		t.Fatalf("an abandoned lease was free at once (got it %v, error %v); want it held for its ttl", ok, err)
	}
	wctx, cancel := context.WithTimeout(ctx, 20*ttl)
	defer cancel()
	unlock, err := lks[1].Lock(wctx, k, time.Minute)
	if err != nil {
		t.Fatalf("an abandoned lease with ttl %v did not lapse within %v: %v", ttl, 20*ttl, err)
	}
	waited := time.Since(start)
	unlock()
	if waited < ttl*9/10 {
		t.Errorf("an abandoned lease with ttl %v was taken over after %v", ttl, waited)
	}
}

func testUnlock(t *testing.T, e *env) {
	lks := e.lockers(t)
	ctx := testCtx(t)
	k := e.key("k")
	unlockA, err := lks[0].Lock(ctx, k, time.Minute)
	if err != nil {
		t.Fatalf("Lock: %v", err)
	}
	unlockA()
	unlockA()
	unlockB, err := lks[1].Lock(ctx, k, time.Minute)
	if err != nil {
		t.Fatalf("Lock after a double unlock: %v", err)
	}
	unlockA() // the old holder again: must not free B's lease
	if ok, err := free(ctx, lks[0], k, 300*time.Millisecond); ok || err != nil {
		t.Errorf("a former holder's unlock freed the next holder's lease (got it %v, error %v)", ok, err)
	}
	done := make(chan struct{})
	go func() { unlockB(); close(done) }()
	unlockB()
	<-done
	if ok, err := free(ctx, lks[0], k, 10*time.Second); !ok {
		t.Errorf("Lock after unlock: %v", err)
	}
}
