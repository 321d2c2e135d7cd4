package storetest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/storetest"
)

// bytesStore is a store as a user might write one from the contract: tokens as JSON and versions
// as decimal text, so that both can be damaged. flaw makes it break one rule, to show that the
// suite catches it.
type bytesStore struct {
	flaw string
	mu   sync.Mutex
	recs map[string]rec
	lk   *shoptoken.MemoryStore // leases
}

type rec struct {
	ver  string // decimal version
	data []byte // token JSON; nil for a tombstone
}

func newBytesStore(flaw string) *bytesStore {
	return &bytesStore{flaw: flaw, recs: map[string]rec{}, lk: shoptoken.NewMemoryStore()}
}

// state returns the version Load reports for r, the version the next one follows, and whether
// the version is readable.
func (s *bytesStore) state(r rec, ok bool) (report, from int64, readable bool) {
	if !ok {
		return 0, 0, true
	}
	v, err := strconv.ParseInt(r.ver, 10, 64)
	if err != nil || v < 1 || v > shoptoken.MaxVersion {
		return 0, 0, false
	}
	if r.data == nil {
		if s.flaw == "tombstone version" {
			return v, v, true
		}
		return 0, v, true
	}
	return v, v, true
}

func (s *bytesStore) Load(ctx context.Context, key string) (*shoptoken.Token, int64, error) {
	if err := ctx.Err(); err != nil && s.flaw != "ignores ctx" {
		return nil, 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.recs[key]
	report, _, readable := s.state(r, ok)
	switch {
	case !readable:
		return nil, 0, fmt.Errorf("bytesstore: %q: %w: bad version", key, shoptoken.ErrCorrupt)
	case !ok || r.data == nil:
		return nil, report, shoptoken.ErrNotFound
	}
	var tok shoptoken.Token
	if err := json.Unmarshal(r.data, &tok); err != nil {
		if s.flaw == "quotes content" {
			return nil, report, fmt.Errorf("bytesstore: %q: %w: %s", key, shoptoken.ErrCorrupt, r.data)
		}
		return nil, report, fmt.Errorf("bytesstore: %q: %w", key, shoptoken.ErrCorrupt)
	}
	return &tok, report, nil
}

func (s *bytesStore) Save(ctx context.Context, key string, tok *shoptoken.Token, prev int64) (int64, error) {
	if err := ctx.Err(); err != nil && s.flaw != "ignores ctx" {
		return 0, err
	}
	if tok == nil {
		return 0, errors.New("bytesstore: nil token")
	}
	data, err := json.Marshal(tok)
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	r, ok := s.recs[key]
	report, from, _ := s.state(r, ok)
	if report != prev {
		s.mu.Unlock()
		return 0, shoptoken.ErrConflict
	}
	if s.flaw == "racy CAS" {
		s.mu.Unlock() // compare, then write without holding the lock in between
		time.Sleep(time.Millisecond)
		s.mu.Lock()
	}
	defer s.mu.Unlock()
	next := shoptoken.NextVersion(from)
	if s.flaw == "overflows" {
		next = from + 1
	}
	s.recs[key] = rec{ver: strconv.FormatInt(next, 10), data: data}
	return next, nil
}

func (s *bytesStore) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil && s.flaw != "ignores ctx" {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.recs[key]
	_, from, readable := s.state(r, ok)
	switch {
	case s.flaw == "forgets deleted versions":
		delete(s.recs, key)
	case !ok || readable && r.data == nil:
	default:
		s.recs[key] = rec{ver: strconv.FormatInt(shoptoken.NextVersion(from), 10)}
	}
	return nil
}

func (s *bytesStore) Lock(ctx context.Context, key string, ttl time.Duration) (func(), error) {
	if s.flaw == "shared leases" {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return func() {}, nil
	}
	return s.lk.Lock(ctx, key, ttl)
}

// TryLockLoad takes the lease as Lock does, without waiting, then loads: two steps, which a
// store in one process may take.
func (s *bytesStore) TryLockLoad(ctx context.Context, key string, ttl time.Duration) (shoptoken.LeaseLoad, error) {
	var unlock func()
	if s.flaw == "lease load ignores the holder" {
		unlock = func() {}
	} else {
		ll, err := s.lk.TryLockLoad(ctx, key, ttl) // the lease only: s.lk holds no tokens
		if err != nil {
			return shoptoken.LeaseLoad{}, err
		}
		unlock = ll.Unlock
	}
	tok, v, err := s.Load(ctx, key)
	if err != nil && !errors.Is(err, shoptoken.ErrNotFound) && !errors.Is(err, shoptoken.ErrCorrupt) {
		if unlock != nil {
			unlock()
		}
		return shoptoken.LeaseLoad{}, err
	}
	return shoptoken.LeaseLoad{Token: tok, Version: v, LoadErr: err, Unlock: unlock}, nil
}

func (s *bytesStore) LoadMany(ctx context.Context, keys []string) (map[string]shoptoken.Loaded, error) {
	out := map[string]shoptoken.Loaded{}
	var errs []error
	for _, k := range keys {
		tok, v, err := s.Load(ctx, k)
		switch {
		case err == nil:
			out[k] = shoptoken.Loaded{Token: tok, Version: v}
		case errors.Is(err, shoptoken.ErrCorrupt) && s.flaw == "bulk load hides damage":
		case !errors.Is(err, shoptoken.ErrNotFound):
			errs = append(errs, err)
		}
	}
	return out, errors.Join(errs...)
}

// flatDue is a due index that ignores namespaces: every Keeper would sweep every app's keys.
type flatDue struct{ m *shoptoken.MemoryStore }

func (f flatDue) Schedule(ctx context.Context, _ string, dues ...shoptoken.Due) error {
	return f.m.Schedule(ctx, "", dues...)
}

func (f flatDue) Unschedule(ctx context.Context, _ string, keys ...string) error {
	return f.m.Unschedule(ctx, "", keys...)
}

func (f flatDue) Due(ctx context.Context, _ string, now time.Time, limit int) ([]string, error) {
	return f.m.Due(ctx, "", now, limit)
}

// firstDue schedules only the first key of a batch.
type firstDue struct{ *shoptoken.MemoryStore }

func (f firstDue) Schedule(ctx context.Context, ns string, dues ...shoptoken.Due) error {
	return f.MemoryStore.Schedule(ctx, ns, dues[:min(len(dues), 1)]...)
}

// damage writes d under key.
func (s *bytesStore) damage(_ context.Context, key string, d storetest.Damage, secret string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ver := s.recs[key].ver
	if ver == "" {
		ver = "3"
	}
	switch d {
	case storetest.Garbage:
		s.recs[key] = rec{ver: ver, data: []byte(`{"access_token":"` + secret)}
	case storetest.WrongTypes:
		s.recs[key] = rec{ver: ver, data: []byte(`{"access_token":["` + secret + `"],"expiry":"` + secret + `"}`)}
	case storetest.BadVersion:
		s.recs[key] = rec{ver: "v" + ver, data: []byte(`{"access_token":"` + secret + `"}`)}
	default:
		return errors.ErrUnsupported
	}
	return nil
}

func (s *bytesStore) put(_ context.Context, key string, tok *shoptoken.Token, version int64) error {
	data, err := json.Marshal(tok)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recs[key] = rec{ver: strconv.FormatInt(version, 10), data: data}
	return nil
}

func harness(flaw string) func(t *testing.T) *storetest.Harness {
	return func(t *testing.T) *storetest.Harness {
		s := newBytesStore(flaw)
		var due shoptoken.DueIndex = shoptoken.NewMemoryStore()
		switch flaw {
		case "one due index for all namespaces":
			due = flatDue{shoptoken.NewMemoryStore()}
		case "schedules one key per batch":
			due = firstDue{shoptoken.NewMemoryStore()}
		}
		return &storetest.Harness{Store: s, DueIndex: due, Damage: s.damage, Put: s.put}
	}
}

// TestRun: a store that keeps the contract passes.
func TestRun(t *testing.T) {
	storetest.Run(t, harness(""))
}

// TestRun_catchesFlaws runs the suite in a child process on a store with one flaw each, and
// checks that the subtest for that rule fails.
func TestRun_catchesFlaws(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	for _, tt := range []struct{ flaw, subtest string }{
		{"tombstone version", "Tombstone"},
		{"forgets deleted versions", "VersionsGrow"},
		{"racy CAS", "ConcurrentCAS"},
		{"quotes content", "Damage"},
		{"overflows", "VersionRange"},
		{"ignores ctx", "Context"},
		{"shared leases", "LeaseExclusion"},
		{"lease load ignores the holder", "LeaseLoad"},
		{"bulk load hides damage", "BulkLoad"},
		{"one due index for all namespaces", "DueNamespaces"},
		{"schedules one key per batch", "DueBatch"},
	} {
		t.Run(tt.flaw, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestFlawedStore$/^"+tt.subtest+"$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), "STORETEST_FLAW="+tt.flaw)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Run()
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				t.Fatalf("the suite passed a store that %s (%v):\n%s", tt.flaw, err, out.String())
			}
			if want := "--- FAIL: TestFlawedStore/" + tt.subtest; !bytes.Contains(out.Bytes(), []byte(want)) {
				t.Fatalf("want %q in:\n%s", want, out.String())
			}
		})
	}
}

// TestFlawedStore is the child of TestRun_catchesFlaws; on its own it does nothing.
func TestFlawedStore(t *testing.T) {
	flaw := os.Getenv("STORETEST_FLAW")
	if flaw == "" {
		t.Skip("child process of TestRun_catchesFlaws")
	}
	storetest.Run(t, harness(flaw))
}
