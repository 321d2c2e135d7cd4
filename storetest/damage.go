package storetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"

	"github.com/shoptoken/shoptoken"
)

// damaged checks what Load says about a damaged key: an error wrapping ErrCorrupt (neither
// ErrNotFound nor ErrConflict) that shows no stored secret, no token, and a version in
// 0..MaxVersion, the same on every Load and through Peer. It returns that version.
func damaged(t *testing.T, ctx context.Context, e *env, key, what string) int64 {
	t.Helper()
	var first int64
	for i, s := range e.both() {
		tok, v, err := s.Load(ctx, key)
		if !errors.Is(err, shoptoken.ErrCorrupt) || errors.Is(err, shoptoken.ErrNotFound) || errors.Is(err, shoptoken.ErrConflict) {
			t.Fatalf("Load of %s: token %v, version %d, error %v; want an error wrapping ErrCorrupt", what, tok, v, err)
		}
		noSecret(t, "Load of "+what, err)
		if tok != nil {
			t.Errorf("Load of %s returned a token with ErrCorrupt", what)
		}
		if v < 0 || v > shoptoken.MaxVersion {
			t.Errorf("Load of %s: version %d outside 0..MaxVersion", what, v)
		}
		if i == 0 {
			first = v
		} else if v != first {
			t.Errorf("Load of %s: version %d through Peer, %d through Store", what, v, first)
		}
	}
	return first
}

// replace checks that, of several writers saving over a damaged key with the version Load
// reported, exactly one wins and the others get ErrConflict, and that a Save with any other prev
// is refused first. It returns the winner's version.
func replace(t *testing.T, ctx context.Context, e *env, key string, prev int64, what string) int64 {
	t.Helper()
	for _, p := range []int64{prev + 1, prev - 1, 7} {
		if p != prev && p >= 0 {
			conflict(t, ctx, e.Store, key, p, "over "+what+", with another prev than Load reported")
		}
	}
	var mu sync.Mutex
	var wins []int64
	var tags []string
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tag := fmt.Sprintf("repair-%d", i)
			v, err := e.both()[i%2].Save(ctx, key, token(tag), prev)
			noSecret(t, "Save over "+what, err)
			if err != nil && !errors.Is(err, shoptoken.ErrConflict) {
				t.Errorf("Save over %s with prev %d (the version Load reported): %v", what, prev, err)
				return
			}
			if err == nil {
				mu.Lock()
				wins, tags = append(wins, v), append(tags, tag)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(wins) != 1 {
		t.Fatalf("%d writers replaced %s with prev %d; want exactly one (the others get ErrConflict)", len(wins), what, prev)
	}
	checkVersion(t, "Save over "+what, wins[0])
	holds(t, ctx, e.peer(), key, tags[0], wins[0])
	conflict(t, ctx, e.Store, key, prev, "over "+what+" a second time, with the version of the damage")
	return wins[0]
}

func testDamage(t *testing.T, e *env) {
	if e.Damage == nil {
		t.Skip("storetest: Harness.Damage is nil: the store holds nothing that can be damaged")
	}
	for _, d := range damages {
		t.Run(d.String(), func(t *testing.T) {
			ctx := testCtx(t)
			k := e.key(d.String())
			v1 := save(t, ctx, e.Store, k, token("before"), 0)
			save(t, ctx, e.Store, k, token("before2"), v1)
			err := e.Damage(ctx, k, d, secretAccess)
			if errors.Is(err, errors.ErrUnsupported) {
				t.Skipf("storetest: the store cannot hold %v damage", d)
			}
			if err != nil {
				t.Fatalf("Harness.Damage(%v): %v", d, err)
			}
			what := fmt.Sprint(d, " damage")
			prev := damaged(t, ctx, e, k, what)
			v := replace(t, ctx, e, k, prev, what)
			v2 := save(t, ctx, e.Store, k, token("after"), v)
			if v2 <= v {
				t.Errorf("after the repair, version %d follows %d", v2, v)
			}
			holds(t, ctx, e.peer(), k, "after", v2)
		})
	}
}

func testDamageDelete(t *testing.T, e *env) {
	if e.Damage == nil {
		t.Skip("storetest: Harness.Damage is nil: the store holds nothing that can be damaged")
	}
	for _, d := range damages {
		t.Run(d.String(), func(t *testing.T) {
			ctx := testCtx(t)
			k := e.key(d.String())
			err := e.Damage(ctx, k, d, secretAccess)
			if errors.Is(err, errors.ErrUnsupported) {
				t.Skipf("storetest: the store cannot hold %v damage", d)
			}
			if err != nil {
				t.Fatalf("Harness.Damage(%v): %v", d, err)
			}
			damaged(t, ctx, e, k, fmt.Sprint(d, " damage"))
			if err := e.peer().Delete(ctx, k); err != nil {
				t.Fatalf("Delete of %v damage: %v", d, err)
			}
			noSecret(t, "Delete", err)
			absent(t, ctx, e.Store, k, fmt.Sprint("after deleting ", d, " damage"))
			if err := e.Store.Delete(ctx, k); err != nil {
				t.Errorf("Delete again: %v", err)
			}
			conflict(t, ctx, e.Store, k, 1, "on a deleted key")
			v := save(t, ctx, e.Store, k, token("new"), 0)
			holds(t, ctx, e.peer(), k, "new", v)
		})
	}
}

func testVersionRange(t *testing.T, e *env) {
	if e.Put == nil {
		t.Skip("storetest: Harness.Put is nil")
	}
	t.Run("MaxVersion", func(t *testing.T) {
		// A key at MaxVersion is readable, and the next Save stays in range.
		ctx := testCtx(t)
		k := e.key("max")
		if err := e.Put(ctx, k, token("max"), shoptoken.MaxVersion); err != nil {
			t.Fatalf("Harness.Put: %v", err)
		}
		holds(t, ctx, e.peer(), k, "max", shoptoken.MaxVersion)
		conflict(t, ctx, e.Store, k, shoptoken.MaxVersion-1, "at MaxVersion with a stale prev")
		v := replace(t, ctx, e, k, shoptoken.MaxVersion, "a token at MaxVersion")
		if v == shoptoken.MaxVersion {
			t.Errorf("Save at MaxVersion kept version MaxVersion")
		}
		save(t, ctx, e.Store, k, token("next"), v)

		// So does the tombstone of a key deleted at MaxVersion.
		k = e.key("max-deleted")
		if err := e.Put(ctx, k, token("max"), shoptoken.MaxVersion); err != nil {
			t.Fatalf("Harness.Put: %v", err)
		}
		if err := e.Store.Delete(ctx, k); err != nil {
			t.Fatalf("Delete at MaxVersion: %v", err)
		}
		absent(t, ctx, e.Store, k, "after a Delete at MaxVersion")
		v = save(t, ctx, e.peer(), k, token("again"), 0)
		holds(t, ctx, e.Store, k, "again", v)
	})
	for _, bad := range []int64{math.MaxInt64, shoptoken.MaxVersion + 1, 0, -1, math.MinInt64} {
		t.Run(fmt.Sprint(bad), func(t *testing.T) {
			ctx := testCtx(t)
			k := e.key(fmt.Sprint("bad", bad))
			if err := e.Put(ctx, k, token("bad"), bad); err != nil {
				t.Fatalf("Harness.Put(version %d): %v", bad, err)
			}
			what := fmt.Sprintf("a token stored at version %d", bad)
			prev := damaged(t, ctx, e, k, what)
			v := replace(t, ctx, e, k, prev, what)
			save(t, ctx, e.Store, k, token("next"), v)

			k = e.key(fmt.Sprint("bad-deleted", bad))
			if err := e.Put(ctx, k, token("bad"), bad); err != nil {
				t.Fatalf("Harness.Put(version %d): %v", bad, err)
			}
			if err := e.Store.Delete(ctx, k); err != nil {
				t.Fatalf("Delete of %s: %v", what, err)
			}
			absent(t, ctx, e.Store, k, "after deleting "+what)
			v = save(t, ctx, e.Store, k, token("again"), 0)
			holds(t, ctx, e.peer(), k, "again", v)
		})
	}
}
