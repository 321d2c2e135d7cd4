package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shoptoken/shoptoken"
)

// dueIndex returns the due index to test, or nil.
func (e *env) dueIndex() shoptoken.DueIndex {
	if e.DueIndex != nil {
		return e.DueIndex
	}
	idx, _ := e.Store.(shoptoken.DueIndex)
	return idx
}

func testDueIndex(t *testing.T, e *env) {
	idx := e.dueIndex()
	if idx == nil {
		t.Skip("storetest: no DueIndex: Harness.DueIndex is nil and the store is not one")
	}
	ctx := testCtx(t)
	// Whole milliseconds in the past, in several zones: stores may keep due times to the
	// millisecond, and compare instants, not wall clocks.
	now := time.Date(2001, 2, 3, 4, 5, 6, 7_000_000, time.UTC)
	cst := time.FixedZone("CST", 8*3600)
	k := func(name string) string { return e.key(name) }
	var scheduled []string
	schedule := func(name string, at time.Time) {
		t.Helper()
		if err := idx.Schedule(ctx, k(name), at); err != nil {
			t.Fatalf("Schedule(%q): %v", name, err)
		}
		scheduled = append(scheduled, k(name))
	}
	t.Cleanup(func() {
		for _, key := range scheduled {
			_ = idx.Unschedule(context.Background(), key)
		}
	})
	due := func(at time.Time, limit int, want ...string) {
		t.Helper()
		got, err := idx.Due(ctx, at, limit)
		if err != nil {
			t.Fatalf("Due: %v", err)
		}
		for i := range want {
			want[i] = k(want[i])
		}
		if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", want) {
			t.Errorf("Due(%v, limit %d) = %q; want %q", at, limit, got, want)
		}
	}

	due(now, 0) // empty
	schedule("late", now.Add(time.Hour))
	schedule("b", now.Add(-time.Minute).In(cst))
	schedule("a", now.Add(-time.Hour))
	schedule("c", now) // due at now is due
	schedule("d", now.Add(time.Millisecond))
	due(now.Add(-2*time.Hour), 10)
	due(now, 0, "a", "b", "c")
	due(now.In(cst), -1, "a", "b", "c")
	due(now, 2, "a", "b")
	due(now, 1, "a")

	schedule("a", now.Add(2*time.Hour)) // refreshed: moved later
	if err := idx.Unschedule(ctx, k("b")); err != nil {
		t.Fatalf("Unschedule: %v", err)
	}
	if err := idx.Unschedule(ctx, k("never scheduled")); err != nil {
		t.Errorf("Unschedule of a key never scheduled: %v", err)
	}
	if err := idx.Unschedule(ctx, k("b")); err != nil {
		t.Errorf("Unschedule twice: %v", err)
	}
	due(now, 10, "c")
	due(now, 10, "c") // Due does not remove keys
	due(now.Add(3*time.Hour), 0, "c", "d", "late", "a")
	schedule("late", now.Add(-2*time.Hour)) // moved earlier
	due(now.Add(3*time.Hour), 3, "late", "c", "d")
}
