package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/shoptoken/shoptoken"
)

// leaseLoaders returns the LeaseLoaders of Store and Peer, skipping t when Store is none.
func (e *env) leaseLoaders(t *testing.T) []shoptoken.LeaseLoader {
	t.Helper()
	return capable[shoptoken.LeaseLoader](t, e, "shoptoken.LeaseLoader")
}

// tryLockLoad calls TryLockLoad, failing t on an error, and checks that what it read is what
// Load reads: the same token, version and kind of error.
func tryLockLoad(t *testing.T, ctx context.Context, e *env, ll shoptoken.LeaseLoader, key, what string) shoptoken.LeaseLoad {
	t.Helper()
	got, err := ll.TryLockLoad(ctx, key, time.Minute)
	if err != nil {
		t.Fatalf("TryLockLoad(%q) %s: %v", key, what, err)
	}
	noSecret(t, "TryLockLoad", got.LoadErr)
	tok, v, lerr := e.Store.Load(ctx, key)
	for _, kind := range []error{shoptoken.ErrNotFound, shoptoken.ErrCorrupt} {
		if errors.Is(got.LoadErr, kind) != errors.Is(lerr, kind) {
			t.Errorf("TryLockLoad(%q) %s: LoadErr %v; Load says %v", key, what, got.LoadErr, lerr)
		}
	}
	if (got.LoadErr == nil) != (lerr == nil) {
		t.Errorf("TryLockLoad(%q) %s: LoadErr %v; Load says %v", key, what, got.LoadErr, lerr)
	}
	if got.Version != v {
		t.Errorf("TryLockLoad(%q) %s: version %d; Load says %d", key, what, got.Version, v)
	}
	switch {
	case tok == nil && got.Token != nil:
		t.Errorf("TryLockLoad(%q) %s: a token where Load finds none (%v)", key, what, lerr)
	case tok != nil:
		if d := sameToken(tok, got.Token); d != "" {
			t.Errorf("TryLockLoad(%q) %s: not the token Load reads: %s", key, what, d)
		}
	}
	return got
}

// held checks that a lease taken by TryLockLoad excludes the other holders, and releases it.
func held(t *testing.T, ctx context.Context, e *env, key string, got shoptoken.LeaseLoad, what string) {
	t.Helper()
	if got.Unlock == nil {
		t.Fatalf("TryLockLoad(%q) %s: no Unlock, though the lease was free", key, what)
	}
	lls := e.leaseLoaders(t)
	if again, err := lls[1].TryLockLoad(ctx, key, time.Minute); err != nil || again.Unlock != nil {
		t.Errorf("TryLockLoad(%q) of a lease TryLockLoad holds: Unlock %v, error %v; want no Unlock", key, again.Unlock != nil, err)
		if again.Unlock != nil {
			again.Unlock()
		}
	}
	if lk, ok := e.Store.(shoptoken.Locker); ok {
		if ok, err := free(ctx, lk, key, 200*time.Millisecond); ok || err != nil {
			t.Errorf("Lock(%q) took a lease TryLockLoad holds (got it %v, error %v)", key, ok, err)
		}
	}
	got.Unlock()
	got.Unlock() // twice
	after, err := lls[1].TryLockLoad(ctx, key, time.Minute)
	if err != nil || after.Unlock == nil {
		t.Fatalf("TryLockLoad(%q) after Unlock: Unlock %v, error %v; want the lease", key, after.Unlock != nil, err)
	}
	after.Unlock()
}

// testLeaseLoad: TryLockLoad reads what Load reads, takes a free lease and only a free one.
func testLeaseLoad(t *testing.T, e *env) {
	lls := e.leaseLoaders(t)
	ctx := testCtx(t)

	k := e.key("absent")
	got := tryLockLoad(t, ctx, e, lls[0], k, "of a key never saved")
	held(t, ctx, e, k, got, "of a key never saved")

	k = e.key("stored")
	v := save(t, ctx, e.Store, k, fullToken(), 0)
	got = tryLockLoad(t, ctx, e, lls[1], k, "of a stored key")
	if got.LoadErr != nil || got.Version != v {
		t.Errorf("TryLockLoad(%q) of a stored key: version %d, LoadErr %v; want version %d", k, got.Version, got.LoadErr, v)
	}
	held(t, ctx, e, k, got, "of a stored key")

	k = e.key("deleted")
	save(t, ctx, e.Store, k, token("gone"), 0)
	if err := e.Store.Delete(ctx, k); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	got = tryLockLoad(t, ctx, e, lls[0], k, "of a deleted key")
	if !errors.Is(got.LoadErr, shoptoken.ErrNotFound) || got.Version != 0 {
		t.Errorf("TryLockLoad(%q) of a deleted key: version %d, LoadErr %v; want ErrNotFound and version 0", k, got.Version, got.LoadErr)
	}
	held(t, ctx, e, k, got, "of a deleted key")

	// Held by another: no lease, and the token is read all the same, also after a Save by the
	// holder.
	lk, isLocker := e.Store.(shoptoken.Locker)
	if isLocker {
		k = e.key("held")
		var v int64
		unlock, err := lk.Lock(ctx, k, time.Minute)
		if err != nil {
			t.Fatalf("Lock: %v", err)
		}
		for _, tag := range []string{"held2", "held3"} {
			v = save(t, ctx, e.Store, k, token(tag), v) // by the holder
			for _, ll := range lls {
				got := tryLockLoad(t, ctx, e, ll, k, "of a key leased by Lock")
				if got.Unlock != nil {
					t.Errorf("TryLockLoad(%q) took a lease Lock holds", k)
					got.Unlock()
				}
				if tagOf(got.Token) != tag || got.Version != v {
					t.Errorf("TryLockLoad(%q) of a leased key: %q at version %d; want %q at %d", k, tagOf(got.Token), got.Version, tag, v)
				}
			}
		}
		unlock()
		got = tryLockLoad(t, ctx, e, lls[1], k, "after the Lock's unlock")
		held(t, ctx, e, k, got, "after the Lock's unlock")
	}

	// Of many callers on a free lease, exactly one takes it.
	k = e.key("race")
	var mu sync.Mutex
	var unlocks []func()
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			got, err := lls[i%2].TryLockLoad(ctx, k, time.Minute)
			if err != nil {
				t.Errorf("TryLockLoad: %v", err)
				return
			}
			if got.Unlock != nil {
				mu.Lock()
				unlocks = append(unlocks, got.Unlock)
				mu.Unlock()
			}
		}()
	}
	close(start)
	wg.Wait()
	if len(unlocks) != 1 {
		t.Errorf("%d of 20 concurrent TryLockLoads took a free lease; want exactly 1", len(unlocks))
	}
	for _, u := range unlocks {
		u()
	}
}

// testLeaseLoadDamage: TryLockLoad reports damage as Load does, with the version that replaces
// it, and takes the lease all the same (whoever holds it replaces the damage).
func testLeaseLoadDamage(t *testing.T, e *env) {
	lls := e.leaseLoaders(t)
	if e.Damage == nil && e.Put == nil {
		t.Skip("storetest: Harness.Damage and Harness.Put are nil")
	}
	ctx := testCtx(t)
	check := func(k, what string) {
		t.Helper()
		got := tryLockLoad(t, ctx, e, lls[0], k, "of "+what)
		if !errors.Is(got.LoadErr, shoptoken.ErrCorrupt) || got.Token != nil {
			t.Errorf("TryLockLoad(%q) of %s: token %v, LoadErr %v; want no token and ErrCorrupt", k, what, got.Token, got.LoadErr)
		}
		held(t, ctx, e, k, got, "of "+what)
		replace(t, ctx, e, k, got.Version, what)
	}
	if e.Damage != nil {
		for _, d := range damages {
			k := e.key(d.String())
			save(t, ctx, e.Store, k, token("before"), 0)
			err := e.Damage(ctx, k, d, secretAccess)
			if errors.Is(err, errors.ErrUnsupported) {
				continue
			}
			if err != nil {
				t.Fatalf("Harness.Damage(%v): %v", d, err)
			}
			check(k, fmt.Sprint(d, " damage"))
		}
	}
	if e.Put != nil {
		k := e.key("bad version")
		if err := e.Put(ctx, k, token("bad"), shoptoken.MaxVersion+1); err != nil {
			t.Fatalf("Harness.Put: %v", err)
		}
		check(k, "a version above MaxVersion")
	}
}

// testLeaseLoadRenewal: a lease TryLockLoad took is renewed past its ttl until Unlock, as Lock's.
func testLeaseLoadRenewal(t *testing.T, e *env) {
	lls := e.leaseLoaders(t)
	ctx := testCtx(t)
	k := e.key("k")
	const ttl = 1500 * time.Millisecond // see testLeaseRenewal
	got, err := lls[0].TryLockLoad(ctx, k, ttl)
	if err != nil || got.Unlock == nil {
		t.Fatalf("TryLockLoad of a free lease: Unlock %v, error %v", got.Unlock != nil, err)
	}
	deadline := time.Now().Add(3 * ttl)
	for time.Now().Before(deadline) {
		again, err := lls[1].TryLockLoad(ctx, k, ttl)
		if err != nil {
			t.Fatalf("TryLockLoad: %v", err)
		}
		if again.Unlock != nil {
			again.Unlock()
			t.Fatalf("a live holder's lease was taken before %v (ttl %v); the holder must renew it", 3*ttl, ttl)
		}
		time.Sleep(ttl / 10)
	}
	if lk, ok := e.Store.(shoptoken.Locker); ok {
		if ok, err := free(ctx, lk, k, 100*time.Millisecond); ok || err != nil {
			t.Errorf("Lock took a renewed lease of TryLockLoad (got it %v, error %v)", ok, err)
		}
	}
	got.Unlock()
	if lk, ok := e.Store.(shoptoken.Locker); ok {
		if ok, err := free(ctx, lk, k, 10*time.Second); !ok {
			t.Errorf("Lock after TryLockLoad's Unlock: %v", err)
		}
	}
}

// testLeaseLoadLapse: an abandoned lease keeps TryLockLoad out for its ttl, and no longer.
func testLeaseLoadLapse(t *testing.T, e *env) {
	lls := e.leaseLoaders(t)
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
	for {
		got, err := lls[0].TryLockLoad(ctx, k, time.Minute)
		if err != nil {
			t.Fatalf("TryLockLoad: %v", err)
		}
		if got.Unlock != nil {
			got.Unlock()
			if waited := time.Since(start); waited < ttl*9/10 {
				t.Errorf("an abandoned lease with ttl %v was taken over after %v", ttl, waited)
			}
			return
		}
		if time.Since(start) > 20*ttl {
			t.Fatalf("an abandoned lease with ttl %v did not lapse within %v", ttl, 20*ttl)
		}
		time.Sleep(ttl / 20)
	}
}
