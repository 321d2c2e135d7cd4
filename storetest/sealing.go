package storetest

import (
	"context"
	"crypto/rand"
	"errors"
	"maps"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/testkit"
	"github.com/shoptoken/shoptoken/seal"
)

// SealHarness is a store that seals tokens with a seal.Keyring, as RunSealing needs it: opened as
// processes with different keyrings open it, and read behind its API.
type SealHarness struct {
	// Open returns a Store on the harness's data, shared by every Store Open returns, that seals
	// with kr (nil: stores in clear). Each call stands for a process of its own, as started by a
	// deploy: its own client, connection or file handles. Required.
	Open func(t *testing.T, kr *seal.Keyring) shoptoken.Store
	// Raw returns what the store keeps at rest for key: the Redis value, the file, the row,
	// as bytes. The suite looks in it for secrets in clear and for the id of the sealing key.
	// Required.
	Raw func(ctx context.Context, key string) (string, error)
	// Dump returns every value the store keeps at rest for the harness's data, whatever key,
	// lease or index it belongs to, each as one string: the suite checks that no secret of a
	// token is among them. nil: only Raw of the suite's keys is searched.
	Dump func(ctx context.Context) ([]string, error)
}

// RunSealing checks a store that seals (package seal) as subtests of t, in parallel, calling
// newHarness once in each: sealed tokens round-trip and nothing of them is stored in clear; a
// token stored in clear before sealing was turned on loads and is sealed by the next Save; a
// sealed token is damage (shoptoken.ErrCorrupt with the version that replaces it) for a Store
// without a keyring, and for one whose keyring lacks the sealing key (then also
// seal.ErrUnknownKey), through Load, TryLockLoad and LoadMany alike; a rotation re-seals what
// Save writes and leaves the rest to the old key; and a fleet of Caches rolling a new key out in
// the three deploys package seal prescribes, processes of old and new keyrings side by side,
// loses no refresh token, never reports damage, and ends with every token sealed with the new key
// and no secret in clear at rest, while a rollout that skips the first deploy is caught reporting
// damage. A store with a method Reseal(ctx, keys) (int, error), as filestore's and redisstore's,
// must rewrite with the current key exactly the tokens sealed with an older one or stored in
// clear, reporting those it cannot open.
func RunSealing(t *testing.T, newHarness func(t *testing.T) *SealHarness) {
	t.Helper()
	id := rand.Text()[:8]
	for _, tc := range sealSuite {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			if h == nil || h.Open == nil || h.Raw == nil {
				t.Fatal("storetest: the seal harness needs Open and Raw")
			}
			tc.run(t, &sealEnv{SealHarness: h, run: id, name: tc.name,
				a: sealKey("storetest-a"), b: sealKey("storetest-b")})
		})
	}
}

var sealSuite = []struct {
	name string
	run  func(t *testing.T, e *sealEnv)
}{
	{"SealRoundTrip", testSealRoundTrip},
	{"SealPlaintext", testSealPlaintext},
	{"SealNoKeyring", testSealNoKeyring},
	{"SealUnknownKey", testSealUnknownKey},
	{"SealRotation", testSealRotation},
	{"SealFleet", func(t *testing.T, e *sealEnv) { testSealFleet(t, e, true) }},
	{"SealFleetSkippedStep", func(t *testing.T, e *sealEnv) { testSealFleet(t, e, false) }},
}

type sealEnv struct {
	*SealHarness
	run, name string
	a, b      seal.Key
}

func (e *sealEnv) key(name string) string { return "storetest/" + e.run + "/" + e.name + "/" + name }

// keyring returns a Keyring of keys, the first current.
func (e *sealEnv) keyring(t *testing.T, keys ...seal.Key) *seal.Keyring {
	t.Helper()
	kr, err := seal.New(keys[0], keys[1:]...)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// sealKey returns a key named id with a random secret.
func sealKey(id string) seal.Key {
	k := seal.Key{ID: id, Secret: make([]byte, seal.SecretSize)}
	_, _ = rand.Read(k.Secret)
	return k
}

// sealedWith fails t unless key's value at rest is sealed with the key named id and shows no
// secret of the suite.
func (e *sealEnv) sealedWith(t *testing.T, ctx context.Context, key, id string) {
	t.Helper()
	raw, err := e.Raw(ctx, key)
	if err != nil {
		t.Fatalf("Raw(%q): %v", key, err)
	}
	if !strings.Contains(raw, "seal:v1:"+id+":") {
		t.Errorf("%q at rest is not sealed with %q: %d bytes, %s", key, id, len(raw), sealIDs(raw))
	}
	if p := testkit.Leak(raw, secrets...); p != "" {
		t.Errorf("%q at rest shows %q, a piece of a token's secret", key, p)
	}
}

// sealIDs names the seals in raw, for failure messages that must not quote raw.
func sealIDs(raw string) string {
	var ids []string
	for rest := raw; ; {
		i := strings.Index(rest, "seal:v1:")
		if i < 0 {
			break
		}
		rest = rest[i+len("seal:v1:"):]
		id, _, _ := strings.Cut(rest, ":")
		ids = append(ids, strconv.Quote(id[:min(len(id), seal.MaxIDLen)]))
	}
	if ids == nil {
		return "no seal"
	}
	return "sealed with " + strings.Join(ids, ", ")
}

// corruptBy checks that every way s reads key (Load, TryLockLoad, LoadMany) reports damage
// wrapping shoptoken.ErrCorrupt and, if kind is not nil, kind, at the version want.
func corruptBy(t *testing.T, ctx context.Context, s shoptoken.Store, key string, kind error, want int64, what string) {
	t.Helper()
	tok, v, err := s.Load(ctx, key)
	check := func(via string, tok *shoptoken.Token, v int64, err error) {
		t.Helper()
		if !errors.Is(err, shoptoken.ErrCorrupt) || tok != nil || v != want {
			t.Errorf("%s of %s: token %v, version %d, error %v; want ErrCorrupt at version %d", via, what, tok != nil, v, err, want)
		}
		if kind != nil && !errors.Is(err, kind) {
			t.Errorf("%s of %s: %v; want it to wrap %v too", via, what, err, kind)
		}
		noSecret(t, via+" of "+what, err)
	}
	check("Load", tok, v, err)
	if ll, ok := s.(shoptoken.LeaseLoader); ok {
		got, err := ll.TryLockLoad(ctx, key, time.Minute)
		if err != nil {
			t.Fatalf("TryLockLoad of %s: %v", what, err)
		}
		if got.Unlock != nil {
			got.Unlock()
		}
		check("TryLockLoad", got.Token, got.Version, got.LoadErr)
	}
	if bl, ok := s.(shoptoken.BulkLoader); ok {
		m, err := bl.LoadMany(ctx, []string{key})
		l, in := m[key]
		check("LoadMany", l.Token, want, err)
		if in {
			t.Errorf("LoadMany of %s returned a token", what)
		}
	}
}

// opens checks that every way s reads key returns the token tagged tag at version v.
func opens(t *testing.T, ctx context.Context, s shoptoken.Store, key, tag string, v int64, what string) {
	t.Helper()
	tok, got, err := s.Load(ctx, key)
	if err != nil || tagOf(tok) != tag || got != v {
		t.Fatalf("Load of %s: token %q, version %d, error %v; want %q at version %d", what, tagOf(tok), got, err, tag, v)
	}
	if ll, ok := s.(shoptoken.LeaseLoader); ok {
		l, err := ll.TryLockLoad(ctx, key, time.Minute)
		if err != nil || l.LoadErr != nil || tagOf(l.Token) != tag || l.Version != v {
			t.Errorf("TryLockLoad of %s: token %q, version %d, error %v, %v; want %q at version %d", what, tagOf(l.Token), l.Version, err, l.LoadErr, tag, v)
		}
		if l.Unlock != nil {
			l.Unlock()
		}
	}
	if bl, ok := s.(shoptoken.BulkLoader); ok {
		m, err := bl.LoadMany(ctx, []string{key})
		if err != nil || tagOf(m[key].Token) != tag || m[key].Version != v {
			t.Errorf("LoadMany of %s: token %q, version %d, error %v; want %q at version %d", what, tagOf(m[key].Token), m[key].Version, err, tag, v)
		}
	}
}

func testSealRoundTrip(t *testing.T, e *sealEnv) {
	ctx := testCtx(t)
	kr := e.keyring(t, e.a)
	s, peer := e.Open(t, kr), e.Open(t, kr)
	key := e.key("k")
	v := save(t, ctx, s, key, token("one"), 0)
	opens(t, ctx, peer, key, "one", v, "a sealed token")
	e.sealedWith(t, ctx, key, e.a.ID)
	got, _ := load(t, ctx, peer, key)
	if want := token("one"); got.AccessToken != want.AccessToken || got.RefreshToken != want.RefreshToken {
		t.Errorf("a sealed token came back as another one")
	}
}

func testSealPlaintext(t *testing.T, e *sealEnv) {
	ctx := testCtx(t)
	plain, sealed := e.Open(t, nil), e.Open(t, e.keyring(t, e.a))
	key := e.key("k")
	v := save(t, ctx, plain, key, token("clear"), 0)
	opens(t, ctx, sealed, key, "clear", v, "a token stored in clear before sealing was turned on")
	v = save(t, ctx, sealed, key, token("sealed"), v)
	e.sealedWith(t, ctx, key, e.a.ID)
	opens(t, ctx, sealed, key, "sealed", v, "a token sealed by its next Save")
}

func testSealNoKeyring(t *testing.T, e *sealEnv) {
	ctx := testCtx(t)
	sealed, plain := e.Open(t, e.keyring(t, e.a)), e.Open(t, nil)
	key := e.key("k")
	v := save(t, ctx, sealed, key, token("sealed"), 0)
	corruptBy(t, ctx, plain, key, nil, v, "a sealed token, by a Store without a keyring")
	v = save(t, ctx, plain, key, token("replaced"), v)
	opens(t, ctx, plain, key, "replaced", v, "the replacement")
}

func testSealUnknownKey(t *testing.T, e *sealEnv) {
	ctx := testCtx(t)
	withB, withA := e.Open(t, e.keyring(t, e.b)), e.Open(t, e.keyring(t, e.a))
	key := e.key("k")
	v := save(t, ctx, withB, key, token("b"), 0)
	corruptBy(t, ctx, withA, key, seal.ErrUnknownKey, v, "a token sealed with a key the keyring lacks")
	conflict(t, ctx, withA, key, v+1, "over the damage, with another version than Load reported")
	v = save(t, ctx, withA, key, token("a"), v)
	e.sealedWith(t, ctx, key, e.a.ID)
	corruptBy(t, ctx, withB, key, seal.ErrUnknownKey, v, "the replacement, by the first Store")
}

func testSealRotation(t *testing.T, e *sealEnv) {
	ctx := testCtx(t)
	onlyA := e.Open(t, e.keyring(t, e.a))
	k1, k2 := e.key("written"), e.key("idle")
	v1 := save(t, ctx, onlyA, k1, token("1"), 0)
	v2 := save(t, ctx, onlyA, k2, token("2"), 0)

	bCurrent := e.Open(t, e.keyring(t, e.b, e.a))
	opens(t, ctx, bCurrent, k1, "1", v1, "a token sealed with the older key")
	v1 = save(t, ctx, bCurrent, k1, token("1b"), v1)
	e.sealedWith(t, ctx, k1, e.b.ID)
	e.sealedWith(t, ctx, k2, e.a.ID)
	opens(t, ctx, e.Open(t, e.keyring(t, e.a, e.b)), k1, "1b", v1, "a token sealed with the new key, by a process that opens with it")

	resealed := testReseal(t, ctx, e, onlyA, bCurrent, k1)

	onlyB := e.Open(t, e.keyring(t, e.b))
	opens(t, ctx, onlyB, k1, "1b", v1, "a re-sealed token, once the older key is dropped")
	for k, v := range resealed {
		opens(t, ctx, onlyB, k, k[len(k)-1:], v, "a token rewritten by Reseal, once the older key is dropped")
	}
	corruptBy(t, ctx, onlyB, k2, seal.ErrUnknownKey, v2, "a token never re-sealed, once its key is dropped")
}

// resealer is a store that rewrites, on demand, the tokens not sealed with its current key, as
// filestore's and redisstore's Reseal do.
type resealer interface {
	Reseal(ctx context.Context, keys []string) (int, error)
}

// testReseal checks Reseal, if s has it, over a token sealed with the current key (done), one
// sealed with an older key, one in clear, an absent key and one sealed with a key the keyring
// lacks: the two in between are rewritten (sealed with the current key, at the next version), the
// last is reported as damage and left alone, and a second Reseal rewrites nothing. It returns the
// rewritten keys and their versions; their tokens are tagged with the keys' last letter.
func testReseal(t *testing.T, ctx context.Context, e *sealEnv, old, s shoptoken.Store, done string) map[string]int64 {
	t.Helper()
	r, ok := s.(resealer)
	if !ok {
		t.Log("storetest: the store has no Reseal method; skipping its checks")
		return nil
	}
	older, clear, absent, foreign := e.key("older-o"), e.key("clear-c"), e.key("absent"), e.key("foreign-f")
	vo := save(t, ctx, old, older, token("o"), 0)
	vc := save(t, ctx, e.Open(t, nil), clear, token("c"), 0)
	other := sealKey("storetest-other")
	vf := save(t, ctx, e.Open(t, e.keyring(t, other)), foreign, token("f"), 0)
	n, err := r.Reseal(ctx, []string{done, older, clear, absent, foreign})
	if n != 2 {
		t.Errorf("Reseal rewrote %d tokens; want 2 (one sealed with the older key, one in clear)", n)
	}
	if !errors.Is(err, shoptoken.ErrCorrupt) || !errors.Is(err, seal.ErrUnknownKey) || !strings.Contains(err.Error(), strconv.Quote(foreign)) {
		t.Errorf("Reseal over a token sealed with a key the keyring lacks: %v; want ErrCorrupt and seal.ErrUnknownKey naming %q", err, foreign)
	}
	noSecret(t, "Reseal", err)
	e.sealedWith(t, ctx, older, e.b.ID)
	e.sealedWith(t, ctx, clear, e.b.ID)
	e.sealedWith(t, ctx, foreign, other.ID)
	opens(t, ctx, s, older, "o", vo+1, "a token Reseal rewrote")
	opens(t, ctx, s, clear, "c", vc+1, "a token in clear Reseal sealed")
	if n, err := r.Reseal(ctx, []string{done, older, clear, absent}); n != 0 || err != nil {
		t.Errorf("a second Reseal rewrote %d tokens, error %v; want none, nil", n, err)
	}
	corruptBy(t, ctx, s, foreign, seal.ErrUnknownKey, vf, "a token Reseal could not open, left as it was")
	return map[string]int64{older: vo + 1, clear: vc + 1}
}

// authority is a platform whose refresh tokens rotate: each refresh needs the live refresh token
// of its key and kills it. It counts refreshes with a dead one: a fleet that lost a rotated
// refresh token.
type authority struct {
	mu     sync.Mutex
	live   map[string]string // key → the live refresh token
	latest map[string]string // key → the latest access token
	issued []string          // every access and refresh token issued
	dead   int
}

func (a *authority) refresher(key string) shoptoken.Refresher {
	return shoptoken.RefresherFunc(func(_ context.Context, cur *shoptoken.Token, _ shoptoken.Reason) (*shoptoken.Token, error) {
		a.mu.Lock()
		defer a.mu.Unlock()
		if live, ok := a.live[key]; ok && (cur == nil || cur.RefreshToken != live) {
			a.dead++
			return nil, &shoptoken.Error{Op: "refresh", Kind: shoptoken.ErrReauthorize, Message: "refresh token is not the live one"}
		}
		now := time.Now()
		tok := &shoptoken.Token{AccessToken: "at-" + rand.Text(), RefreshToken: "rt-" + rand.Text(), TokenType: "Bearer",
			Expiry: now.Add(time.Hour), RefreshExpiry: now.Add(30 * 24 * time.Hour), IssuedAt: now}
		a.live[key], a.latest[key] = tok.RefreshToken, tok.AccessToken
		a.issued = append(a.issued, tok.AccessToken, tok.RefreshToken)
		return tok, nil
	})
}

// proc is one process of a fleet: a Store and a Cache per shop.
type proc struct {
	kr     string
	store  shoptoken.Store
	caches []*shoptoken.Cache
}

// testSealFleet runs a fleet of four processes sharing the store through a key rotation, each
// deploy restarting half the fleet and then the other half, while every process uses every shop's
// token and one reports it rejected each round (a refresh, saved sealed with that process's
// current key, that the others load). With inOrder, the rollout follows package seal's three
// deploys, and the fleet must never see damage nor lose a refresh token; without, the first deploy
// is skipped, and the processes still on the old keyring must report the new seals as damage.
func testSealFleet(t *testing.T, e *sealEnv, inOrder bool) {
	ctx := testCtx(t)
	const procs, shops = 4, 12
	auth := &authority{live: map[string]string{}, latest: map[string]string{}}
	keys := make([]shoptoken.Key, shops)
	names := make([]string, shops)
	for i := range keys {
		keys[i] = shoptoken.Key{Platform: "storetest", App: e.run, Shop: e.name + "-" + strconv.Itoa(i)}
		names[i] = keys[i].String()
	}
	var corrupt atomic.Int64
	start := func(label string, kr *seal.Keyring) *proc {
		p := &proc{kr: label, store: e.Open(t, kr)}
		var loaded map[string]shoptoken.Loaded
		if bl, ok := p.store.(shoptoken.BulkLoader); ok {
			var err error
			loaded, err = bl.LoadMany(ctx, names)
			if err != nil && inOrder {
				t.Errorf("a process started with keyring %s: LoadMany: %v", label, err)
			}
		}
		for i, k := range keys {
			opts := []shoptoken.Option{shoptoken.WithKey(k), shoptoken.WithStore(p.store), shoptoken.WithMinInterval(0),
				shoptoken.WithEvents(func(ev shoptoken.Event) {
					if ev.Kind == shoptoken.EventStoreCorrupt {
						corrupt.Add(1)
					}
				})}
			if l, ok := loaded[names[i]]; ok {
				opts = append(opts, shoptoken.WithStoredToken(l.Token, l.Version))
			}
			c, err := shoptoken.NewCache(auth.refresher(names[i]), opts...)
			if err != nil {
				t.Fatal(err)
			}
			p.caches = append(p.caches, c)
		}
		return p
	}
	stop := func(p *proc) {
		for _, c := range p.caches {
			if err := c.Shutdown(ctx); err != nil {
				t.Errorf("Shutdown: %v", err)
			}
		}
	}
	round := 0
	work := func(fleet []*proc) {
		t.Helper()
		round++
		var wg sync.WaitGroup
		for i := range shops {
			for j, p := range fleet {
				if p == nil {
					continue // not started yet
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					tok, err := p.caches[i].Token(ctx)
					if err == nil && (i+round)%procs == j {
						_, err = p.caches[i].Invalidate(ctx, tok)
					}
					if err != nil && inOrder {
						t.Errorf("round %d, process %d (keyring %s), %s: %v", round, j, p.kr, names[i], err)
					}
				}()
			}
		}
		wg.Wait()
		if !inOrder {
			for _, p := range fleet {
				if p == nil {
					continue
				}
				for _, c := range p.caches {
					c.Reload(ctx)
				}
			}
			return
		}
		auth.mu.Lock()
		latest := maps.Clone(auth.latest)
		auth.mu.Unlock()
		for j, p := range fleet {
			if p == nil {
				continue
			}
			for i, c := range p.caches {
				if tok := c.Reload(ctx); tok == nil || tok.AccessToken != latest[names[i]] {
					t.Errorf("round %d, process %d (keyring %s), %s: Reload did not adopt the latest token", round, j, p.kr, names[i])
				}
			}
		}
	}
	a, b := e.a, e.b
	fleet := make([]*proc, procs)
	t.Cleanup(func() {
		for _, p := range fleet {
			if p != nil {
				stop(p)
			}
		}
	})
	deploy := func(label string, kr *seal.Keyring) {
		for half := range 2 { // half the fleet, a round, the other half, a round
			for j := half * procs / 2; j < (half+1)*procs/2; j++ {
				if fleet[j] != nil {
					stop(fleet[j])
				}
				fleet[j] = start(label, kr)
			}
			work(fleet)
		}
	}

	deploy("[a]", e.keyring(t, a))
	if !inOrder {
		deploy("[b a]", e.keyring(t, b, a)) // deploy 1 skipped
		if corrupt.Load() == 0 {
			t.Errorf("a rollout that skipped the first deploy reported no damage: a store that cannot open a token must report it (shoptoken.ErrCorrupt)")
		}
		return
	}
	deploy("[a b]", e.keyring(t, a, b)) // 1: b opens
	deploy("[b a]", e.keyring(t, b, a)) // 2: b seals
	deploy("[b]", e.keyring(t, b))      // 3: a dropped

	if n := corrupt.Load(); n != 0 {
		t.Errorf("the fleet reported %d damaged tokens during a rotation in order", n)
	}
	auth.mu.Lock()
	dead, issued := auth.dead, append([]string(nil), auth.issued...)
	auth.mu.Unlock()
	if dead != 0 {
		t.Errorf("the fleet refreshed %d times with a dead refresh token: a rotated one was lost", dead)
	}
	if len(issued) < 2*shops*5 {
		t.Errorf("the authority issued %d secrets; want every shop refreshed in every deploy", len(issued))
	}
	for _, k := range names {
		raw, err := e.Raw(ctx, k)
		if err != nil {
			t.Fatalf("Raw(%q): %v", k, err)
		}
		if !strings.Contains(raw, "seal:v1:"+b.ID+":") || strings.Contains(raw, "seal:v1:"+a.ID+":") {
			t.Errorf("%q at rest after the rotation: %s; want sealed with %q only", k, sealIDs(raw), b.ID)
		}
		testkit.NoSecret(t, "a token at rest", issued, raw)
	}
	if e.Dump != nil {
		all, err := e.Dump(ctx)
		if err != nil {
			t.Fatalf("Dump: %v", err)
		}
		if len(all) < shops {
			t.Errorf("Dump returned %d values for %d tokens", len(all), shops)
		}
		for _, v := range all {
			testkit.NoSecret(t, "the store at rest", issued, v)
		}
	}
}
