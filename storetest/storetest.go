package storetest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/testkit"
)

// Harness is the store under test and the hooks the suite needs to reach behind its API. Only
// Store is required; every nil hook skips the subtests that need it, saying why.
type Harness struct {
	// Store is the store under test. If it is also a shoptoken.Locker, shoptoken.LeaseLoader,
	// shoptoken.Watcher, shoptoken.BulkLoader, shoptoken.DueIndex or shoptoken.FailureIndex, those are tested too, as a
	// Cache and a Keeper would use them.
	Store shoptoken.Store
	// Peer is a second Store on the same data, opened as another process would open it (a Store on
	// its own client, or on the same directory). The suite writes through one and reads through
	// the other, and spreads concurrent writers and lease holders over both. nil: Store.
	Peer shoptoken.Store
	// DueIndex is the due index to test; nil: Store, if it is a shoptoken.DueIndex. The suite
	// schedules keys only in namespaces of its own, so the index need not start empty, and
	// unschedules them when done.
	DueIndex shoptoken.DueIndex

	// Damage replaces what is stored under key with a value damaged as d describes, and returns
	// errors.ErrUnsupported for damage the store cannot hold (a seal that fails to open, in a store
	// that does not seal). Where the damage leaves room, the value contains secret, as a damaged
	// token would, so that the suite can check that no error shows it. nil: the damage subtests are
	// skipped (a store of Go values, such as MemoryStore, cannot be damaged).
	Damage func(ctx context.Context, key string, d Damage, secret string) error
	// Put stores tok under key at exactly version, as a writer that bypasses compare-and-swap
	// would; also versions that no Save hands out (0, negative, above shoptoken.MaxVersion), which
	// the store must then report as damage. nil: the version-range subtests are skipped.
	Put func(ctx context.Context, key string, tok *shoptoken.Token, version int64) error
	// Stall takes a lease on key for ttl and abandons it, as a holder that stalls or dies would:
	// it is never renewed nor released. The suite checks that another holder gets it after about
	// ttl. nil: the lapse subtest is skipped.
	Stall func(ctx context.Context, key string, ttl time.Duration) error
}

// Damage is a kind of damage that Harness.Damage writes.
type Damage int

// The kinds of damage. Each must make Load fail with shoptoken.ErrCorrupt.
const (
	// Garbage: the stored token is not in the store's encoding at all (binary bytes, truncated
	// JSON); the version, where the store keeps it apart, is intact.
	Garbage Damage = iota + 1
	// WrongTypes: the stored token is well-formed JSON of the wrong shape, such as
	// {"access_token": ["…"], "expiry": "soon"}.
	WrongTypes
	// BadVersion: the stored version is not a number ("v3", "", "1e3"), while the token is intact.
	BadVersion
	// BadSeal: a sealed token that does not open: its ciphertext altered, or sealed with another
	// key.
	BadSeal
	// Foreign: something another program left in the token's place, of another kind altogether:
	// a Redis key of another type, a file in another format.
	Foreign
)

var damages = []Damage{Garbage, WrongTypes, BadVersion, BadSeal, Foreign}

// String returns the name of the constant, e.g. "Garbage".
func (d Damage) String() string {
	switch d {
	case Garbage:
		return "Garbage"
	case WrongTypes:
		return "WrongTypes"
	case BadVersion:
		return "BadVersion"
	case BadSeal:
		return "BadSeal"
	case Foreign:
		return "Foreign"
	}
	return fmt.Sprintf("Damage(%d)", int(d))
}

// Run runs the conformance suite as subtests of t, in parallel, calling newHarness once in each
// subtest (from the subtest's goroutine, with the subtest's t, so that it may use t.TempDir,
// t.Cleanup and t.Skip).
func Run(t *testing.T, newHarness func(t *testing.T) *Harness) {
	t.Helper()
	id := rand.Text()[:8]
	for _, tc := range suite {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			if h == nil || h.Store == nil {
				t.Fatal("storetest: the harness has no Store")
			}
			tc.run(t, &env{Harness: h, run: id, name: tc.name})
		})
	}
}

var suite = []struct {
	name string
	run  func(t *testing.T, e *env)
}{
	{"RoundTrip", testRoundTrip},
	{"Keys", testKeys},
	{"CAS", testCAS},
	{"ConcurrentCAS", testConcurrentCAS},
	{"Tombstone", testTombstone},
	{"VersionsGrow", testVersionsGrow},
	{"Context", testContext},
	{"Damage", testDamage},
	{"DamageDelete", testDamageDelete},
	{"VersionRange", testVersionRange},
	{"LeaseExclusion", testLeaseExclusion},
	{"LeaseRenewal", testLeaseRenewal},
	{"LeaseLapse", testLeaseLapse},
	{"Unlock", testUnlock},
	{"Watch", testWatch},
	{"LeaseLoad", testLeaseLoad},
	{"LeaseLoadDamage", testLeaseLoadDamage},
	{"LeaseLoadRenewal", testLeaseLoadRenewal},
	{"LeaseLoadLapse", testLeaseLoadLapse},
	{"BulkLoad", testBulkLoad},
	{"DueIndex", testDueIndex},
	{"DueNamespaces", testDueNamespaces},
	{"DueBatch", testDueBatch},
	{"FailureIndex", testFailureIndex},
}

// env is one subtest's view of the harness.
type env struct {
	*Harness
	run  string // random per Run: keys of earlier runs in a persistent store are not in the way
	name string
}

// key returns the store key the subtest uses for name.
func (e *env) key(name string) string { return "storetest/" + e.run + "/" + e.name + "/" + name }

// peer returns Peer, or Store without one.
func (e *env) peer() shoptoken.Store {
	if e.Peer != nil {
		return e.Peer
	}
	return e.Store
}

// both returns Store and Peer, to spread work over.
func (e *env) both() []shoptoken.Store { return []shoptoken.Store{e.Store, e.peer()} }

// capable returns Store and Peer as a C (a capability such as shoptoken.Locker), Store twice when
// Peer lacks it, and skips t, naming the capability, when Store lacks it.
func capable[C any](t *testing.T, e *env, name string) []C {
	t.Helper()
	a, ok := e.Store.(C)
	if !ok {
		t.Skip("storetest: the store is not a " + name)
	}
	b, ok := e.peer().(C)
	if !ok {
		b = a
	}
	return []C{a, b}
}

// The secrets every token of the suite carries; no error may show a piece of them.
const (
	secretAccess  = "at-STORETEST-SECRET-7f3a9c21d4e8b650"
	secretRefresh = "rt-STORETEST-SECRET-0b6e2d9a4c17f583"
)

var secrets = []string{secretAccess, secretRefresh}

// token returns a token whose secrets are the suite's, marked with tag.
func token(tag string) *shoptoken.Token {
	return &shoptoken.Token{AccessToken: secretAccess + "/" + tag, RefreshToken: secretRefresh + "/" + tag}
}

// tag returns what token(tag) was made with.
func tagOf(tok *shoptoken.Token) string {
	if tok == nil || len(tok.AccessToken) <= len(secretAccess)+1 {
		return ""
	}
	return tok.AccessToken[len(secretAccess)+1:]
}

// ctxTimeout bounds every call of the suite that should not wait.
const ctxTimeout = 30 * time.Second

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), ctxTimeout)
	t.Cleanup(cancel)
	return ctx
}

// noSecret fails t if err shows a piece of the suite's secrets.
func noSecret(t *testing.T, what string, err error) {
	t.Helper()
	for _, out := range testkit.ErrorTexts(err) {
		if p := testkit.Leak(out, secrets...); p != "" {
			t.Errorf("%s: the error shows %q, a piece of a stored secret: %.300s", what, p, out)
			return
		}
	}
}

// checkVersion fails t if v is not a version a Save may hand out.
func checkVersion(t *testing.T, what string, v int64) {
	t.Helper()
	if v < 1 || v > shoptoken.MaxVersion {
		t.Errorf("%s: version %d is outside 1..MaxVersion", what, v)
	}
}

// save saves and fails the subtest on an error.
func save(t *testing.T, ctx context.Context, s shoptoken.Store, key string, tok *shoptoken.Token, prev int64) int64 {
	t.Helper()
	v, err := s.Save(ctx, key, tok, prev)
	if err != nil {
		t.Fatalf("Save(%q, prev %d): %v", key, prev, err)
	}
	checkVersion(t, fmt.Sprintf("Save(%q, prev %d)", key, prev), v)
	return v
}

// conflict checks that a Save with prev loses with ErrConflict.
func conflict(t *testing.T, ctx context.Context, s shoptoken.Store, key string, prev int64, why string) {
	t.Helper()
	v, err := s.Save(ctx, key, token("stale"), prev)
	if !errors.Is(err, shoptoken.ErrConflict) {
		t.Errorf("Save(%q, prev %d) %s: got version %d, error %v; want ErrConflict", key, prev, why, v, err)
	}
	noSecret(t, "Save", err)
}

// load loads, failing the subtest on an error, and checks the version.
func load(t *testing.T, ctx context.Context, s shoptoken.Store, key string) (*shoptoken.Token, int64) {
	t.Helper()
	tok, v, err := s.Load(ctx, key)
	if err != nil {
		t.Fatalf("Load(%q): %v", key, err)
	}
	if tok == nil {
		t.Fatalf("Load(%q): nil token without an error", key)
	}
	checkVersion(t, fmt.Sprintf("Load(%q)", key), v)
	return tok, v
}

// absent checks that Load reports no token: ErrNotFound with version 0.
func absent(t *testing.T, ctx context.Context, s shoptoken.Store, key, why string) {
	t.Helper()
	tok, v, err := s.Load(ctx, key)
	if !errors.Is(err, shoptoken.ErrNotFound) || tok != nil || v != 0 {
		t.Errorf("Load(%q) %s: got token %v, version %d, error %v; want ErrNotFound and version 0", key, why, tok, v, err)
	}
}

// holds checks that Load returns the token tagged tag at version v.
func holds(t *testing.T, ctx context.Context, s shoptoken.Store, key, tag string, v int64) {
	t.Helper()
	tok, got := load(t, ctx, s, key)
	if tagOf(tok) != tag || got != v {
		t.Errorf("Load(%q): token %q at version %d; want %q at version %d", key, tagOf(tok), got, tag, v)
	}
}
