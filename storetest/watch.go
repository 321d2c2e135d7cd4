package storetest

import (
	"testing"
	"time"

	"github.com/shoptoken/shoptoken"
)

// wakeWithin is how soon a watcher must learn of a change; polling stores poll more often.
const wakeWithin = 5 * time.Second

func testWatch(t *testing.T, e *env) {
	w, ok := e.Store.(shoptoken.Watcher)
	if !ok {
		t.Skip("storetest: the store is not a shoptoken.Watcher")
	}
	ctx := testCtx(t)
	k := e.key("k")
	ch, stop, err := w.Watch(ctx, k)
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	defer stop()
	woken := func(what string) {
		t.Helper()
		select {
		case <-ch:
		case <-time.After(wakeWithin):
			t.Fatalf("the watcher was not woken within %v by %s", wakeWithin, what)
		}
	}
	// Each change is made once the previous wake-up has been received, so none is coalesced
	// with the one before.
	v := save(t, ctx, e.peer(), k, token("v1"), 0)
	woken("a Save of a new key through Peer")
	v = save(t, ctx, e.peer(), k, token("v2"), v)
	woken("a Save through Peer")
	if err := e.peer().Delete(ctx, k); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	woken("a Delete through Peer")
	save(t, ctx, e.Store, k, token("v3"), 0)
	woken("a Save through the watching Store")

	// A second watcher of the same key is woken too, and stop may be called twice.
	ch2, stop2, err := w.Watch(ctx, k)
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	stop()
	stop()
	if err := e.peer().Delete(ctx, k); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	select {
	case <-ch2:
	case <-time.After(wakeWithin):
		t.Errorf("a second watcher was not woken after the first stopped")
	}
	stop2()
	stop2()
}
