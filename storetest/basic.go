package storetest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shoptoken/shoptoken"
)

// fullToken has every field set, its times in three zones and to the nanosecond.
func fullToken() *shoptoken.Token {
	cst := time.FixedZone("CST", 8*3600)
	west := time.FixedZone("", -(3*3600 + 30*60))
	tok := token("full")
	tok.TokenType = "Bearer"
	tok.Expiry = time.Date(2031, 5, 6, 7, 8, 9, 123456789, cst)
	tok.RefreshExpiry = time.Date(2032, 1, 2, 3, 4, 5, 1, west)
	tok.IssuedAt = time.Date(2031, 5, 6, 5, 8, 9, 0, time.UTC)
	tok.Scope = []string{"item", "trade", "用户", ""}
	tok.Subject = "88888"
	tok.Extra = map[string]string{"status": "1", "quote\"newline\n": "x\"y\n\x00", "空": "", "": "empty key"}
	return tok
}

// plainToken is a token as a platform issues one: a few scopes, one plain Extra member.
func plainToken() *shoptoken.Token {
	tok := token("plain")
	tok.Expiry = time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
	tok.Scope = []string{"trade", "item", "shop"}
	tok.Subject = "10001"
	tok.Extra = map[string]string{"status": "1"}
	return tok
}

// sameToken reports how got differs from want, or "" when every field is the same; times by
// instant and by offset (a zone's name need not survive).
func sameToken(want, got *shoptoken.Token) string {
	if got == nil {
		return "nil token"
	}
	var diffs []string
	for _, f := range []struct {
		name      string
		want, got time.Time
	}{{"Expiry", want.Expiry, got.Expiry}, {"RefreshExpiry", want.RefreshExpiry, got.RefreshExpiry}, {"IssuedAt", want.IssuedAt, got.IssuedAt}} {
		_, wo := f.want.Zone()
		_, gotOff := f.got.Zone()
		if !f.want.Equal(f.got) || f.want.IsZero() != f.got.IsZero() || wo != gotOff {
			diffs = append(diffs, fmt.Sprintf("%s %v, want %v", f.name, f.got, f.want))
		}
	}
	str := func(name, w, g string) {
		if w != g {
			diffs = append(diffs, fmt.Sprintf("%s %q, want %q", name, g, w))
		}
	}
	str("AccessToken", want.AccessToken, got.AccessToken)
	str("RefreshToken", want.RefreshToken, got.RefreshToken)
	str("TokenType", want.TokenType, got.TokenType)
	str("Subject", want.Subject, got.Subject)
	if fmt.Sprintf("%q", want.Scope) != fmt.Sprintf("%q", got.Scope) {
		diffs = append(diffs, fmt.Sprintf("Scope %q, want %q", got.Scope, want.Scope))
	}
	if len(want.Extra) != len(got.Extra) {
		diffs = append(diffs, fmt.Sprintf("Extra has %d entries, want %d", len(got.Extra), len(want.Extra)))
	}
	for k, w := range want.Extra {
		if g, ok := got.Extra[k]; !ok || g != w {
			diffs = append(diffs, fmt.Sprintf("Extra[%q] %q, want %q", k, g, w))
		}
	}
	return strings.Join(diffs, "; ")
}

func testRoundTrip(t *testing.T, e *env) {
	ctx := testCtx(t)
	refresh := token("refresh only")
	refresh.AccessToken = ""
	for _, tt := range []struct {
		name string
		tok  *shoptoken.Token
	}{
		{"every field", fullToken()},
		{"access token only", token("bare")},
		{"refresh token only", refresh},
		{"local time", func() *shoptoken.Token {
			tok := token("local")
			tok.Expiry = time.Now().Add(time.Hour) // with a monotonic reading, in time.Local
			return tok
		}()},
	} {
		key := e.key(tt.name)
		want := tt.tok.Clone()
		v := save(t, ctx, e.Store, key, tt.tok, 0)
		got, gv := load(t, ctx, e.peer(), key) // another process reads it
		if gv != v {
			t.Errorf("%s: Load version %d, Save returned %d", tt.name, gv, v)
		}
		if d := sameToken(want, got); d != "" {
			t.Errorf("%s: the token did not round-trip: %s", tt.name, d)
		}
		if d := sameToken(want, tt.tok); d != "" {
			t.Errorf("%s: Save changed the caller's token: %s", tt.name, d)
		}
	}

	// Neither the saved token nor a loaded one is the stored state: neither fullToken nor a plain
	// token as a platform issues one (a store may decode the two differently).
	for i, mk := range []func() *shoptoken.Token{fullToken, plainToken} {
		key := e.key("copies-" + strconv.Itoa(i))
		tok := mk()
		save(t, ctx, e.Store, key, tok, 0)
		tok.Subject, tok.Scope[0], tok.Extra["status"] = "changed", "changed", "changed"
		got, _ := load(t, ctx, e.Store, key)
		got.Subject, got.Scope[0], got.Extra["status"] = "changed", "changed", "changed"
		again, _ := load(t, ctx, e.Store, key)
		if d := sameToken(mk(), again); d != "" {
			t.Errorf("a token changed after Save, or after Load, changed the stored one: %s", d)
		}
	}

	// A nil token is refused with an error that is not a conflict, and writes nothing.
	v, err := e.Store.Save(ctx, e.key("nil"), nil, 0)
	if err == nil || errors.Is(err, shoptoken.ErrConflict) {
		t.Errorf("Save(nil token): version %d, error %v; want an error other than ErrConflict", v, err)
	}
	absent(t, ctx, e.Store, e.key("nil"), "after a Save of a nil token")
}

func testKeys(t *testing.T, e *env) {
	ctx := testCtx(t)
	long := strings.Repeat("长", 80) // 240 bytes, beyond any file name
	names := []string{
		"a", "A", "a/b", "a:b", "a.b", "a b", "{a}", "a}:lease", "../../etc/passwd", "..", ".", "~",
		"空 键", "tab\tnewline\n", "nul\x00byte", "%2e%2e", "prefix", "prefix:tok", long + "x", long + "y",
	}
	versions := map[string]int64{}
	for i, n := range names {
		k := e.key(n)
		s := e.both()[i%2]
		versions[n] = save(t, ctx, s, k, token(n), 0)
	}
	for _, n := range names {
		holds(t, ctx, e.peer(), e.key(n), n, versions[n])
	}
	// Each key's versions are its own.
	tags := map[string]string{}
	for _, n := range names {
		tags[n] = n
	}
	for _, n := range names[:3] {
		tags[n] = n + "2"
		versions[n] = save(t, ctx, e.Store, e.key(n), token(tags[n]), versions[n])
	}
	for _, n := range names {
		holds(t, ctx, e.Store, e.key(n), tags[n], versions[n])
	}
	if err := e.Store.Delete(ctx, e.key("a")); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	absent(t, ctx, e.Store, e.key("a"), "after Delete")
	holds(t, ctx, e.Store, e.key("A"), "A2", versions["A"])
}

func testCAS(t *testing.T, e *env) {
	ctx := testCtx(t)
	k := e.key("k")
	conflict(t, ctx, e.Store, k, 1, "on a key never saved")
	conflict(t, ctx, e.Store, k, -1, "with a negative prev")
	absent(t, ctx, e.Store, k, "after refused Saves")
	v1 := save(t, ctx, e.Store, k, token("v1"), 0)
	conflict(t, ctx, e.peer(), k, 0, "with prev 0 on a stored key")
	conflict(t, ctx, e.peer(), k, v1+1, "with a prev from the future")
	v2 := save(t, ctx, e.peer(), k, token("v2"), v1)
	if v2 <= v1 {
		t.Errorf("versions must grow: %d after %d", v2, v1)
	}
	conflict(t, ctx, e.Store, k, v1, "with a stale prev")
	conflict(t, ctx, e.Store, k, -v2, "with a negative prev")
	holds(t, ctx, e.Store, k, "v2", v2)
}

func testConcurrentCAS(t *testing.T, e *env) {
	ctx := testCtx(t)
	k := e.key("k")
	var prev int64
	for round := range 3 {
		const writers = 40
		var (
			mu      sync.Mutex
			winners []string
			won     int64
			others  []error
		)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				tag := fmt.Sprintf("r%d-w%d", round, i)
				<-start
				v, err := e.both()[i%2].Save(ctx, k, token(tag), prev)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					winners, won = append(winners, tag), v
				case !errors.Is(err, shoptoken.ErrConflict):
					others = append(others, err)
				}
			}()
		}
		close(start)
		wg.Wait()
		if len(others) > 0 {
			t.Fatalf("round %d: %d Saves failed with an error other than ErrConflict, e.g. %v", round, len(others), others[0])
		}
		if len(winners) != 1 {
			t.Fatalf("round %d: %d of %d writers on version %d won (%v); want exactly one", round, len(winners), writers, prev, winners)
		}
		checkVersion(t, "the winner's Save", won)
		if won <= prev {
			t.Errorf("round %d: the winner got version %d after %d", round, won, prev)
		}
		holds(t, ctx, e.peer(), k, winners[0], won)
		prev = won
	}
}

func testTombstone(t *testing.T, e *env) {
	ctx := testCtx(t)
	if err := e.Store.Delete(ctx, e.key("never")); err != nil {
		t.Errorf("Delete of a key never saved: %v", err)
	}
	absent(t, ctx, e.Store, e.key("never"), "after deleting a key never saved")
	v := save(t, ctx, e.Store, e.key("never"), token("new"), 0)
	holds(t, ctx, e.Store, e.key("never"), "new", v)

	k := e.key("k")
	v1 := save(t, ctx, e.Store, k, token("v1"), 0)
	v2 := save(t, ctx, e.Store, k, token("v2"), v1)
	if err := e.peer().Delete(ctx, k); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if err := e.Store.Delete(ctx, k); err != nil {
		t.Fatalf("Delete of a deleted key: %v", err)
	}
	absent(t, ctx, e.Store, k, "after Delete")
	absent(t, ctx, e.peer(), k, "after Delete, through Peer")
	for _, stale := range []int64{v1, v2, v2 + 1, v2 + 2} {
		conflict(t, ctx, e.Store, k, stale, "on a deleted key (only prev 0 recreates it)")
	}
	absent(t, ctx, e.Store, k, "after refused Saves")

	// Recreating: exactly one of many writers with prev 0 wins, above the deleted versions.
	var mu sync.Mutex
	var won []int64
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := e.both()[i%2].Save(ctx, k, token("again"), 0)
			if err != nil && !errors.Is(err, shoptoken.ErrConflict) {
				t.Errorf("recreating Save: %v", err)
			}
			if err == nil {
				mu.Lock()
				won = append(won, v)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(won) != 1 {
		t.Fatalf("%d writers recreated the deleted key; want exactly one", len(won))
	}
	v3 := won[0]
	if v3 <= v2 {
		t.Errorf("recreated at version %d, not above the deleted %d: a writer from before the Delete could write again", v3, v2)
	}
	holds(t, ctx, e.peer(), k, "again", v3)
	for _, stale := range []int64{v1, v2, 0} {
		conflict(t, ctx, e.Store, k, stale, "after the key was recreated")
	}
	v4 := save(t, ctx, e.Store, k, token("v4"), v3)
	holds(t, ctx, e.Store, k, "v4", v4)
}

func testVersionsGrow(t *testing.T, e *env) {
	ctx := testCtx(t)
	k := e.key("k")
	var seen []int64
	note := func(v int64) {
		t.Helper()
		for _, s := range seen {
			if v <= s {
				t.Errorf("version %d after %v: versions must grow and never repeat, across Deletes too", v, seen)
			}
		}
		seen = append(seen, v)
	}
	var v int64
	for cycle := range 3 {
		for range 3 {
			v = save(t, ctx, e.both()[cycle%2], k, token("x"), v)
			note(v)
			_, lv := load(t, ctx, e.Store, k)
			if lv != v {
				t.Errorf("Load version %d, Save returned %d", lv, v)
			}
		}
		if err := e.Store.Delete(ctx, k); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		v = 0
	}
}

func testContext(t *testing.T, e *env) {
	ctx := testCtx(t)
	k := e.key("k")
	v := save(t, ctx, e.Store, k, token("kept"), 0)
	idx := e.dueIndex()
	ns := e.ns("ns")
	due := nsKey(ns, "due")
	if idx != nil {
		if err := idx.Schedule(ctx, ns, shoptoken.Due{Key: due, At: time.Unix(1, 0)}); err != nil {
			t.Fatalf("Schedule: %v", err)
		}
		t.Cleanup(func() { _ = idx.Unschedule(context.Background(), ns, due) })
	}
	ended, cancel := context.WithCancel(ctx)
	cancel()
	expired, cancel2 := context.WithDeadline(ctx, time.Now().Add(-time.Second))
	defer cancel2()

	for _, c := range []struct {
		ctx  context.Context
		want error
	}{{ended, context.Canceled}, {expired, context.DeadlineExceeded}} {
		is := func(what string, err error) {
			t.Helper()
			if !errors.Is(err, c.want) {
				t.Errorf("%s with an ended context: %v; want an error wrapping %v", what, err, c.want)
			}
		}
		_, _, err := e.Store.Load(c.ctx, k)
		is("Load", err)
		_, err = e.Store.Save(c.ctx, k, token("lost"), v)
		is("Save", err)
		_, err = e.Store.Save(c.ctx, e.key("new"), token("lost"), 0)
		is("Save of a new key", err)
		is("Delete", e.Store.Delete(c.ctx, k))
		if lk, ok := e.Store.(shoptoken.Locker); ok {
			unlock, err := lk.Lock(c.ctx, k, time.Minute)
			is("Lock", err)
			if unlock != nil {
				t.Errorf("Lock with an ended context returned an unlock")
				unlock()
			}
		}
		if w, ok := e.Store.(shoptoken.Watcher); ok {
			_, stop, err := w.Watch(c.ctx, k)
			is("Watch", err)
			if stop != nil {
				stop()
			}
		}
		if ll, ok := e.Store.(shoptoken.LeaseLoader); ok {
			got, err := ll.TryLockLoad(c.ctx, k, time.Minute)
			is("TryLockLoad", err)
			if got.Unlock != nil {
				t.Errorf("TryLockLoad with an ended context returned an Unlock")
				got.Unlock()
			}
		}
		if bl, ok := e.Store.(shoptoken.BulkLoader); ok {
			got, err := bl.LoadMany(c.ctx, []string{k})
			is("LoadMany", err)
			if len(got) != 0 {
				t.Errorf("LoadMany with an ended context returned %d tokens", len(got))
			}
		}
		if idx != nil {
			is("Schedule", idx.Schedule(c.ctx, ns, shoptoken.Due{Key: nsKey(ns, "new"), At: time.Unix(1, 0)}))
			is("Schedule of a known key", idx.Schedule(c.ctx, ns, shoptoken.Due{Key: due, At: time.Unix(3, 0)}))
			is("Unschedule", idx.Unschedule(c.ctx, ns, due))
			_, err := idx.Due(c.ctx, ns, time.Unix(2, 0), 0)
			is("Due", err)
		}
	}

	// Nothing was changed.
	holds(t, ctx, e.Store, k, "kept", v)
	absent(t, ctx, e.Store, e.key("new"), "after a Save with an ended context")
	if idx != nil {
		got, err := idx.Due(ctx, ns, time.Unix(2, 0), 0)
		if err != nil || len(got) != 1 || got[0] != due {
			t.Errorf("Due after Schedule and Unschedule with ended contexts: %q, %v; want only %q", got, err, due)
		}
	}
	if lk, ok := e.Store.(shoptoken.Locker); ok {
		short, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		unlock, err := lk.Lock(short, k, time.Minute)
		if err != nil {
			t.Errorf("Lock after Locks and TryLockLoads with ended contexts: %v (did one of them take the lease?)", err)
		} else {
			unlock()
		}
	}
}
