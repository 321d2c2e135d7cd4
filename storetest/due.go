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

// ns returns a namespace of the subtest's own, named name: "storetest/<run>.<subtest>.<name>", as
// shoptoken.Key.Namespace gives it. Namespaces of earlier runs and other subtests are not in the
// way, so the due index need not start empty.
func (e *env) ns(name string) string {
	return shoptoken.Key{Platform: "storetest", App: e.run + "." + e.name + "." + name}.Namespace()
}

// nsKey returns the full store key of shop in namespace ns, as shoptoken.Key.String gives it.
func nsKey(ns, shop string) string { return ns + "/" + shop }

// dueEnv wraps a DueIndex for one subtest: it fails the subtest on errors and unschedules every
// key it scheduled at cleanup, so a persistent store keeps nothing of the suite's.
type dueEnv struct {
	t         *testing.T
	ctx       context.Context
	idx       shoptoken.DueIndex
	scheduled map[string][]string // by namespace
}

func (e *env) dues(t *testing.T) *dueEnv {
	t.Helper()
	idx := e.dueIndex()
	if idx == nil {
		t.Skip("storetest: no DueIndex: Harness.DueIndex is nil and the store is not one")
	}
	d := &dueEnv{t: t, ctx: testCtx(t), idx: idx, scheduled: map[string][]string{}}
	t.Cleanup(func() {
		for ns, keys := range d.scheduled {
			_ = idx.Unschedule(context.Background(), ns, keys...)
		}
	})
	return d
}

func (d *dueEnv) schedule(ns string, dues ...shoptoken.Due) {
	d.t.Helper()
	if err := d.idx.Schedule(d.ctx, ns, dues...); err != nil {
		d.t.Fatalf("Schedule(%q, %d keys): %v", ns, len(dues), err)
	}
	for _, du := range dues {
		d.scheduled[ns] = append(d.scheduled[ns], du.Key)
	}
}

func (d *dueEnv) unschedule(ns string, keys ...string) {
	d.t.Helper()
	if err := d.idx.Unschedule(d.ctx, ns, keys...); err != nil {
		d.t.Fatalf("Unschedule(%q, %d keys): %v", ns, len(keys), err)
	}
}

// due checks that Due returns exactly want, in order.
func (d *dueEnv) due(ns string, at time.Time, limit int, want ...string) {
	d.t.Helper()
	got, err := d.idx.Due(d.ctx, ns, at, limit)
	if err != nil {
		d.t.Fatalf("Due(%q): %v", ns, err)
	}
	if len(got) != len(want) {
		d.t.Errorf("Due(%q, %v, limit %d) returned %d keys; want %d: %s", ns, at, limit, len(got), len(want), firstDiff(got, want))
		return
	}
	if s := firstDiff(got, want); s != "" {
		d.t.Errorf("Due(%q, %v, limit %d): %s", ns, at, limit, s)
	}
}

// firstDiff describes where got and want first differ, or "" when they are equal.
func firstDiff(got, want []string) string {
	for i := range max(len(got), len(want)) {
		var g, w string = "(none)", "(none)"
		if i < len(got) {
			g = fmt.Sprintf("%q", got[i])
		}
		if i < len(want) {
			w = fmt.Sprintf("%q", want[i])
		}
		if g != w {
			return fmt.Sprintf("key %d is %s; want %s", i, g, w)
		}
	}
	return ""
}

// dueNow is the suite's "now": whole milliseconds in the past. Stores may keep due times to the
// millisecond, and compare instants, not wall clocks.
var dueNow = time.Date(2001, 2, 3, 4, 5, 6, 7_000_000, time.UTC)

func testDueIndex(t *testing.T, e *env) {
	d := e.dues(t)
	now := dueNow
	cst := time.FixedZone("CST", 8*3600)
	ns := e.ns("a")
	k := func(shop string) string { return nsKey(ns, shop) }
	at := func(shop string, t time.Time) shoptoken.Due { return shoptoken.Due{Key: k(shop), At: t} }

	d.due(ns, now, 0) // empty
	d.schedule(ns, at("late", now.Add(time.Hour)))
	d.schedule(ns, at("b", now.Add(-time.Minute).In(cst)))
	d.schedule(ns, at("a", now.Add(-time.Hour)))
	d.schedule(ns, at("c", now)) // due at now is due
	d.schedule(ns, at("d", now.Add(time.Millisecond)))
	d.due(ns, now.Add(-2*time.Hour), 10)
	d.due(ns, now, 0, k("a"), k("b"), k("c"))
	d.due(ns, now.In(cst), -1, k("a"), k("b"), k("c"))
	d.due(ns, now, 2, k("a"), k("b"))
	d.due(ns, now, 1, k("a"))

	d.schedule(ns, at("a", now.Add(2*time.Hour))) // refreshed: moved later
	d.unschedule(ns, k("b"))
	d.unschedule(ns, k("never scheduled"))
	d.unschedule(ns, k("b")) // twice
	d.due(ns, now, 10, k("c"))
	d.due(ns, now, 10, k("c")) // Due does not remove keys
	d.due(ns, now.Add(3*time.Hour), 0, k("c"), k("d"), k("late"), k("a"))
	d.schedule(ns, at("late", now.Add(-2*time.Hour))) // moved earlier
	d.due(ns, now.Add(3*time.Hour), 3, k("late"), k("c"), k("d"))

	// Keys due at the same time come in key order.
	d.schedule(ns, at("tie-b", now.Add(-3*time.Hour)), at("tie-a", now.Add(-3*time.Hour)))
	d.due(ns, now, 3, k("tie-a"), k("tie-b"), k("late"))

	// Empty batches are no-ops.
	d.schedule(ns)
	d.unschedule(ns)
	d.due(ns, now, 0, k("tie-a"), k("tie-b"), k("late"), k("c"))
}

// testDueNamespaces: a namespace sees only its own keys, whatever the others hold, however alike
// their names and keys are.
func testDueNamespaces(t *testing.T, e *env) {
	d := e.dues(t)
	now := dueNow
	// "x" is a prefix of "x2"; "x/y" is "x"'s key y's key as a namespace would be written.
	a, b, c := e.ns("x"), e.ns("x2"), nsKey(e.ns("x"), "y")
	shared := nsKey(a, "shared") // a key scheduled in two namespaces (a misuse the index survives)
	d.schedule(a, shoptoken.Due{Key: nsKey(a, "1"), At: now.Add(-time.Hour)}, shoptoken.Due{Key: shared, At: now.Add(-time.Minute)})
	d.schedule(b, shoptoken.Due{Key: nsKey(b, "1"), At: now.Add(-2 * time.Hour)}, shoptoken.Due{Key: shared, At: now.Add(time.Hour)})
	d.schedule(c, shoptoken.Due{Key: nsKey(c, "1"), At: now.Add(-3 * time.Hour)})

	d.due(a, now, 0, nsKey(a, "1"), shared)
	d.due(b, now, 0, nsKey(b, "1"))
	d.due(b, now.Add(2*time.Hour), 0, nsKey(b, "1"), shared)
	d.due(c, now, 0, nsKey(c, "1"))
	d.due(e.ns("x3"), now.Add(24*time.Hour), 0) // never written

	// Moving or removing a key in one namespace leaves the others alone.
	d.unschedule(a, shared, nsKey(b, "1"), nsKey(c, "1"))
	d.due(a, now, 0, nsKey(a, "1"))
	d.due(b, now.Add(2*time.Hour), 0, nsKey(b, "1"), shared)
	d.due(c, now, 0, nsKey(c, "1"))
	d.schedule(b, shoptoken.Due{Key: nsKey(a, "1"), At: now.Add(-4 * time.Hour)})
	d.due(a, now, 0, nsKey(a, "1"))
	d.due(b, now, 0, nsKey(a, "1"), nsKey(b, "1"))
}

// batch is more keys than one command of a store is likely to carry (redisstore sends 1000 per
// ZADD), so that a batch split over several commands is checked too.
const batch = 2500

// testDueBatch: Schedule and Unschedule of many keys in one call, moves within a batch.
func testDueBatch(t *testing.T, e *env) {
	d := e.dues(t)
	now := dueNow
	ns, other := e.ns("many"), e.ns("other")
	dues := make([]shoptoken.Due, batch)
	want := make([]string, batch)
	for i := range dues {
		// Scheduled in reverse order of due time: the index orders them.
		key := nsKey(ns, fmt.Sprintf("%05d", i))
		dues[batch-1-i] = shoptoken.Due{Key: key, At: now.Add(-time.Duration(batch-i) * time.Second)}
		want[i] = key
	}
	d.schedule(other, shoptoken.Due{Key: nsKey(other, "1"), At: now.Add(-time.Hour)})
	d.schedule(ns, dues...)
	d.due(ns, now, 0, want...)
	d.due(ns, now, 10, want[:10]...)
	d.due(ns, now.Add(-time.Duration(batch-999)*time.Second), 0, want[:1000]...)
	d.due(other, now, 0, nsKey(other, "1"))

	// Move every other key an hour later, in one batch.
	var moved []shoptoken.Due
	var stay, later []string
	for i, key := range want {
		if i%2 == 0 {
			stay = append(stay, key)
			continue
		}
		moved = append(moved, shoptoken.Due{Key: key, At: now.Add(time.Hour)})
		later = append(later, key)
	}
	d.schedule(ns, moved...)
	d.due(ns, now, 0, stay...)
	d.due(ns, now.Add(2*time.Hour), 0, append(append([]string(nil), stay...), later...)...)

	// Unschedule all but the last 100 keys, in one batch.
	d.unschedule(ns, want[:batch-100]...)
	d.due(ns, now.Add(2*time.Hour), 0, keysIn(want[batch-100:], stay, later)...)
	d.due(other, now, 0, nsKey(other, "1"))
}

// keysIn returns the keys of keep in the order of the concatenated lists.
func keysIn(keep []string, lists ...[]string) []string {
	set := map[string]bool{}
	for _, k := range keep {
		set[k] = true
	}
	var out []string
	for _, l := range lists {
		for _, k := range l {
			if set[k] {
				out = append(out, k)
			}
		}
	}
	return out
}
