package storetest

import (
	"context"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/shoptoken/shoptoken"
)

// testFailureIndex: failures are kept per namespace, replaced per key, cleared, and read back as
// written (times to the millisecond), in batches larger than one round trip's chunk.
func testFailureIndex(t *testing.T, e *env) {
	fi, ok := e.dueIndex().(shoptoken.FailureIndex)
	if !ok {
		fi, ok = e.Store.(shoptoken.FailureIndex)
	}
	if !ok {
		t.Skip("storetest: no FailureIndex: neither the due index nor the store is one")
	}
	ctx := testCtx(t)
	a, b := e.ns("a"), e.ns("b")
	at := time.Date(2026, 12, 1, 8, 0, 0, 123e6, time.UTC)
	t.Cleanup(func() {
		for _, ns := range []string{a, b} {
			fs, _ := fi.Failures(context.Background(), ns)
			keys := make([]string, len(fs))
			for i, f := range fs {
				keys[i] = f.Key
			}
			_ = fi.ClearFailures(context.Background(), ns, keys...)
		}
	})
	read := func(ns string) []shoptoken.Failure {
		t.Helper()
		fs, err := fi.Failures(ctx, ns)
		if err != nil {
			t.Fatalf("Failures(%q): %v", ns, err)
		}
		sort.Slice(fs, func(i, j int) bool { return fs[i].Key < fs[j].Key })
		return fs
	}
	if fs := read(a); len(fs) != 0 {
		t.Fatalf("Failures of a new namespace = %d, want none", len(fs))
	}
	one := shoptoken.Failure{Key: nsKey(a, "s1"), At: at, Kind: "unavailable", Message: "youzan: token: HTTP 503 服务不可用"}
	if err := fi.RecordFailures(ctx, a, one, shoptoken.Failure{Key: nsKey(a, "s2"), At: at, Kind: "reauthorize"}); err != nil {
		t.Fatalf("RecordFailures: %v", err)
	}
	fs := read(a)
	if len(fs) != 2 || fs[0] != one && !(fs[0].Key == one.Key && fs[0].At.Equal(at) && fs[0].Kind == one.Kind && fs[0].Message == one.Message) {
		t.Fatalf("Failures = %+v, want %+v first of 2", fs, one)
	}
	if !fs[1].Permanent() || fs[1].Message != "" {
		t.Errorf("second failure = %+v, want a permanent one without message", fs[1])
	}
	if got := read(b); len(got) != 0 {
		t.Errorf("namespace b sees %d failures of namespace a", len(got))
	}
	later := shoptoken.Failure{Key: nsKey(a, "s1"), At: at.Add(time.Minute), Kind: "credentials"}
	if err := fi.RecordFailures(ctx, a, later); err != nil {
		t.Fatalf("RecordFailures: %v", err)
	}
	if fs := read(a); len(fs) != 2 || fs[0].Kind != "credentials" || !fs[0].At.Equal(later.At) {
		t.Errorf("after a second failure of s1: %+v, want it replaced", fs)
	}
	if err := fi.ClearFailures(ctx, a, nsKey(a, "s1"), nsKey(a, "never")); err != nil {
		t.Fatalf("ClearFailures: %v", err)
	}
	if fs := read(a); len(fs) != 1 || fs[0].Key != nsKey(a, "s2") {
		t.Errorf("after clearing s1: %+v, want s2 alone", fs)
	}
	many := make([]shoptoken.Failure, 2500)
	keys := make([]string, len(many))
	for i := range many {
		keys[i] = nsKey(b, "shop-"+strconv.Itoa(i))
		many[i] = shoptoken.Failure{Key: keys[i], At: at, Kind: "rate_limited"}
	}
	if err := fi.RecordFailures(ctx, b, many...); err != nil {
		t.Fatalf("RecordFailures of %d: %v", len(many), err)
	}
	if fs := read(b); len(fs) != len(many) {
		t.Errorf("Failures after recording %d = %d", len(many), len(fs))
	}
	if err := fi.ClearFailures(ctx, b, keys...); err != nil {
		t.Fatalf("ClearFailures of %d: %v", len(keys), err)
	}
	if fs := read(b); len(fs) != 0 {
		t.Errorf("Failures after clearing all = %d", len(fs))
	}
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	if err := fi.RecordFailures(ended, a, later); err == nil {
		t.Errorf("RecordFailures with an ended ctx: no error")
	}
	if fs := read(a); len(fs) != 1 || fs[0].Kind != "reauthorize" {
		t.Errorf("RecordFailures with an ended ctx changed %+v", fs)
	}
}
