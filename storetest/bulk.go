package storetest

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/shoptoken/shoptoken"
)

// testBulkLoad: LoadMany returns what Load returns for every stored key, leaves out keys without
// a token, and leaves out and reports damaged ones.
func testBulkLoad(t *testing.T, e *env) {
	bl, ok := e.Store.(shoptoken.BulkLoader)
	if !ok {
		t.Skip("storetest: the store is not a shoptoken.BulkLoader")
	}
	ctx := testCtx(t)

	got, err := bl.LoadMany(ctx, nil)
	if err != nil || len(got) != 0 {
		t.Errorf("LoadMany of no keys: %d tokens, error %v; want none", len(got), err)
	}

	// More keys than one round trip of a store is likely to carry, through both stores.
	var keys []string
	want := map[string]int64{}
	for i := range batch {
		k := e.key(fmt.Sprintf("k%05d", i))
		keys = append(keys, k)
		switch {
		case i%10 == 3: // never saved
		case i%10 == 7: // deleted
			save(t, ctx, e.Store, k, token(k), 0)
			if err := e.peer().Delete(ctx, k); err != nil {
				t.Fatalf("Delete: %v", err)
			}
		default:
			want[k] = save(t, ctx, e.both()[i%2], k, token(k), 0)
		}
	}
	full := e.key("full")
	want[full] = save(t, ctx, e.Store, full, fullToken(), 0)
	keys = append(keys, full)

	// Damaged keys, as many kinds as the harness can write.
	var bad []string
	if e.Damage != nil {
		for _, d := range damages {
			k := e.key("damaged " + d.String())
			save(t, ctx, e.Store, k, token("before"), 0)
			err := e.Damage(ctx, k, d, secretAccess)
			if errors.Is(err, errors.ErrUnsupported) {
				continue
			}
			if err != nil {
				t.Fatalf("Harness.Damage(%v): %v", d, err)
			}
			bad = append(bad, k)
		}
	}
	if e.Put != nil {
		k := e.key("damaged version")
		if err := e.Put(ctx, k, token("bad"), -1); err != nil {
			t.Fatalf("Harness.Put: %v", err)
		}
		bad = append(bad, k)
	}
	keys = append(keys, bad...)

	got, err = bl.LoadMany(ctx, keys)
	switch {
	case len(bad) == 0 && err != nil:
		t.Errorf("LoadMany: %v", err)
	case len(bad) > 0:
		if !errors.Is(err, shoptoken.ErrCorrupt) || errors.Is(err, shoptoken.ErrNotFound) {
			t.Errorf("LoadMany with %d damaged keys: error %v; want one wrapping ErrCorrupt", len(bad), err)
		}
		noSecret(t, "LoadMany", err)
		for _, k := range bad {
			if err == nil || !strings.Contains(err.Error(), k) {
				t.Errorf("LoadMany: the error does not name the damaged key %q: %v", k, err)
			}
		}
	}
	if len(got) != len(want) {
		t.Errorf("LoadMany returned %d tokens; want %d (the keys without a token and the damaged ones left out)", len(got), len(want))
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("LoadMany returned %q, which has no readable token", k)
		}
	}
	for k, v := range want {
		l, ok := got[k]
		if !ok {
			t.Errorf("LoadMany left out %q", k)
			continue
		}
		if l.Version != v {
			t.Errorf("LoadMany(%q): version %d; want %d", k, l.Version, v)
		}
		wantTok := token(k)
		if k == full {
			wantTok = fullToken()
		}
		if d := sameToken(wantTok, l.Token); d != "" {
			t.Errorf("LoadMany(%q): %s", k, d)
		}
	}

	// The tokens are the caller's.
	if l, ok := got[full]; ok {
		l.Token.Subject, l.Token.Scope[0], l.Token.Extra["status"] = "changed", "changed", "changed"
	}
	again, err := bl.LoadMany(ctx, []string{full})
	if err != nil {
		t.Fatalf("LoadMany: %v", err)
	}
	if d := sameToken(fullToken(), again[full].Token); d != "" {
		t.Errorf("a token changed after LoadMany changed the stored one: %s", d)
	}
}
