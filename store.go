package shoptoken

import (
	"container/heap"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Store persists tokens and shares them between processes. Implementations must be safe for
// concurrent use; storetest.Run checks one against this contract.
//
// Every Save of a key, and every Delete of a stored token, gives the key a new version, larger
// than all its versions before (NextVersion states the one exception), from 1 to MaxVersion, so
// every store can hold them exactly, Lua's and JSON's numbers included. Save takes as prev the
// version Load reports and succeeds only while Load would still report it:
//
//   - a stored token: its version;
//   - no token (never saved, or deleted): 0. A deleted key is absent: Load returns ErrNotFound
//     and version 0, and Save with prev 0 recreates it; but the store keeps a tombstone, so the
//     recreated key's versions continue above the deleted ones and a writer still holding a
//     version from before the Delete gets ErrConflict;
//   - a damaged value (ErrCorrupt): the version Load reported with the error. When the damage
//     left no readable version in range, that is 0 and the replacement starts again at 1.
//
// Every method returns an error wrapping ctx's error, having changed nothing, when ctx has ended
// before it is called.
type Store interface {
	// Load returns the stored token and its version; ErrNotFound and version 0 when there is none.
	// When the stored value cannot be read as a token (undecodable, a version out of range),
	// Load returns an error wrapping ErrCorrupt (never quoting the stored content) and the
	// version that Save accepts as prev to replace it.
	Load(ctx context.Context, key string) (*Token, int64, error)
	// Save writes tok if the stored version is still prev (0 = absent) and returns the new version;
	// ErrConflict when someone else wrote first.
	Save(ctx context.Context, key string, tok *Token, prev int64) (int64, error)
	// Delete removes the key, leaving a tombstone (see above). Deleting an absent key is not an
	// error; deleting a damaged one removes the damage.
	Delete(ctx context.Context, key string) error
}

// MaxVersion is the largest version a Store hands out. A stored version outside 1..MaxVersion is
// damage (ErrCorrupt).
const MaxVersion = 1<<53 - 1

// NextVersion returns the version a Store gives a key whose version is v: v+1, and 1 after
// MaxVersion or after a version out of range (damage), so no Store ever writes a version above
// MaxVersion, nor wraps to a negative one. Reaching MaxVersion takes 2^53 writes of one key: in
// practice only a forged version gets there, and after it, as after any repair of damage, a writer
// still holding a small version from before may match a new one.
func NextVersion(v int64) int64 {
	if v < 0 || v >= MaxVersion {
		return 1
	}
	return v + 1
}

// Locker hands out leases so that one process at a time refreshes a key.
type Locker interface {
	// Lock takes a lease on key, waiting until it is free or ctx ends (then it returns an error
	// wrapping ctx's, and no lease). ctx bounds the wait only: once taken, the implementation keeps
	// renewing the lease until unlock, even after ctx ends; if the holder dies it lapses after ttl
	// (or sooner: filestore's flock ends with the process). unlock releases it only if this holder
	// still owns it, and may be called more than once.
	Lock(ctx context.Context, key string, ttl time.Duration) (unlock func(), err error)
}

// Watcher is an optional Store capability: Watch returns a channel that receives (or is closed)
// when key is saved or deleted by anyone, so a Cache waiting on another process's refresh learns of
// it without polling. stop releases the subscription and may be called more than once; ctx bounds
// the setup only (Watch with an ended ctx returns its error). Stores without it are polled.
type Watcher interface {
	Watch(ctx context.Context, key string) (changed <-chan struct{}, stop func(), err error)
}

// MemoryStore is a Store, Locker, Watcher, DueIndex and FailureIndex in process memory. It copies tokens in and out, so no
// caller can change stored state. It is safe for concurrent use; the zero value is not usable, use
// NewMemoryStore.
type MemoryStore struct {
	mu       sync.Mutex
	entries  map[string]memEntry
	leases   map[string]memLease
	watchers map[string]map[chan struct{}]struct{}
	now      func() time.Time

	// The due index has its own lock, so that a Keeper's sweep never holds up Load and Save.
	dueMu sync.RWMutex
	dues  map[string]*dueHeap // by namespace
	fails memFailures         // the FailureIndex, under dueMu too
}

// DueIndex remembers when each key next needs a Keeper's attention, so that a sweep costs
// O(keys due), not O(keys). It is partitioned by namespace (Key.Namespace: a platform and an app),
// so that a Keeper can only ever see the keys of its own app, whatever else shares the store.
// MemoryStore and redisstore implement it. Each method returns an error wrapping ctx's error,
// having changed nothing, when ctx has ended before it is called.
type DueIndex interface {
	// Schedule sets (or moves) the due time of each key in ns, in one round trip for all of them.
	Schedule(ctx context.Context, ns string, dues ...Due) error
	// Unschedule removes keys from ns; removing an absent key is not an error.
	Unschedule(ctx context.Context, ns string, keys ...string) error
	// Due returns up to limit keys of ns due at or before now, earliest first; limit <= 0 means
	// no limit. Due times may be kept to the millisecond. Due does not remove the keys.
	Due(ctx context.Context, ns string, now time.Time, limit int) ([]string, error)
}

// Due is one key's due time in a DueIndex.
type Due struct {
	Key string
	At  time.Time
}

// LeaseLoader is an optional Locker capability that saves a round trip on every refresh: in one
// round trip it takes the lease on key if it is free and reads the stored token either way. A
// Cache uses it in place of Lock and Load when the store offers it.
type LeaseLoader interface {
	// TryLockLoad never waits for a lease held by another. It returns an error only when the
	// round trip failed; what Load would have returned (its token, version and ErrNotFound or
	// ErrCorrupt) is in the LeaseLoad.
	TryLockLoad(ctx context.Context, key string, ttl time.Duration) (LeaseLoad, error)
}

// LeaseLoad is the answer of TryLockLoad.
type LeaseLoad struct {
	Token   *Token
	Version int64
	LoadErr error // nil, or an error wrapping ErrNotFound or ErrCorrupt, as Load's
	// Unlock releases the lease when it was free and is now held (as Locker's unlock, renewed
	// until called); nil when another holder has it.
	Unlock func()
}

// Loaded is one token of a bulk load: the token and its version, to pass to Save as prev.
type Loaded struct {
	Token   *Token
	Version int64
}

// BulkLoader is an optional Store capability for starting a fleet's worth of Caches: one call
// loads many keys, in as few round trips as the store can manage. Keys without a token are left
// out of the map; a damaged key is left out and reported in the error, which joins every failure
// and never quotes stored content.
type BulkLoader interface {
	LoadMany(ctx context.Context, keys []string) (map[string]Loaded, error)
}

var (
	_ Store        = (*MemoryStore)(nil)
	_ Locker       = (*MemoryStore)(nil)
	_ LeaseLoader  = (*MemoryStore)(nil)
	_ Watcher      = (*MemoryStore)(nil)
	_ DueIndex     = (*MemoryStore)(nil)
	_ BulkLoader   = (*MemoryStore)(nil)
	_ FailureIndex = (*MemoryStore)(nil)
)

// memEntry is a key's token and version. A deleted key keeps its entry with a nil tok (a
// tombstone), so that its versions never repeat.
type memEntry struct {
	tok     *Token
	version int64
}

// state returns the version Load reports for e (and Save accepts as prev), the version the next
// one follows, and whether e is damaged: a version out of range, which only a test can plant, but
// which is treated as the Store contract says all the same.
func (e memEntry) state() (prev, from int64, damaged bool) {
	switch {
	case e.version < 0 || e.version > MaxVersion || (e.tok != nil && e.version == 0):
		return 0, 0, true
	case e.tok == nil:
		return 0, e.version, false
	}
	return e.version, e.version, false
}

type memLease struct {
	owner   string
	expires time.Time
	freed   chan struct{} // closed when the lease is released or taken over
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{
		entries:  map[string]memEntry{},
		leases:   map[string]memLease{},
		watchers: map[string]map[chan struct{}]struct{}{},
		now:      time.Now,
		dues:     map[string]*dueHeap{},
	}
}

// Load implements Store.
func (m *MemoryStore) Load(ctx context.Context, key string) (*Token, int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.entries[key]
	prev, _, damaged := e.state()
	switch {
	case damaged:
		return nil, prev, fmt.Errorf("shoptoken: memory store: load %q: %w: version out of range", key, ErrCorrupt)
	case e.tok == nil:
		return nil, prev, ErrNotFound
	}
	return e.tok.Clone(), e.version, nil
}

// Save implements Store. prev 0 matches both an absent key and a deleted one; after a Delete the
// version continues from the deleted one's, as in redisstore and filestore.
func (m *MemoryStore) Save(ctx context.Context, key string, tok *Token, prev int64) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if tok == nil {
		return 0, fmt.Errorf("shoptoken: memory store: save %q: nil token", key)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	want, from, _ := m.entries[key].state()
	if prev != want {
		return 0, ErrConflict
	}
	v := NextVersion(from)
	m.entries[key] = memEntry{tok: tok.Clone(), version: v}
	m.notifyLocked(key)
	return v, nil
}

// Delete implements Store. It leaves a tombstone holding the next version, so a writer still
// holding a version from before the Delete gets ErrConflict even after the key is saved again.
func (m *MemoryStore) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.entries[key]; ok {
		if _, from, damaged := e.state(); damaged || e.tok != nil {
			m.entries[key] = memEntry{version: NextVersion(from)}
		}
	}
	m.notifyLocked(key)
	return nil
}

func (m *MemoryStore) notifyLocked(key string) {
	for ch := range m.watchers[key] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// Watch implements Watcher.
func (m *MemoryStore) Watch(ctx context.Context, key string) (<-chan struct{}, func(), error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	ch := make(chan struct{}, 1)
	m.mu.Lock()
	if m.watchers[key] == nil {
		m.watchers[key] = map[chan struct{}]struct{}{}
	}
	m.watchers[key][ch] = struct{}{}
	m.mu.Unlock()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			m.mu.Lock()
			delete(m.watchers[key], ch)
			if len(m.watchers[key]) == 0 {
				delete(m.watchers, key)
			}
			m.mu.Unlock()
		})
	}
	return ch, stop, nil
}

// Lock implements Locker. A MemoryStore's leases live in this process only; a lease whose ttl has
// passed may be taken by the next caller, as a crashed holder's would be in a shared store.
func (m *MemoryStore) Lock(ctx context.Context, key string, ttl time.Duration) (func(), error) {
	if err := ctx.Err(); err != nil {
		return nil, err // not even a free lease: the caller has given up
	}
	owner := rand.Text()
	for {
		m.mu.Lock()
		unlock, l := m.tryLockLocked(key, owner, ttl)
		m.mu.Unlock()
		if unlock != nil {
			return unlock, nil
		}
		t := time.NewTimer(l.expires.Sub(m.now()))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-l.freed:
		case <-t.C:
		}
		t.Stop()
	}
}

// TryLockLoad implements LeaseLoader.
func (m *MemoryStore) TryLockLoad(ctx context.Context, key string, ttl time.Duration) (LeaseLoad, error) {
	if err := ctx.Err(); err != nil {
		return LeaseLoad{}, err
	}
	m.mu.Lock()
	unlock, _ := m.tryLockLocked(key, rand.Text(), ttl)
	m.mu.Unlock()
	tok, v, err := m.Load(ctx, key)
	if err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrCorrupt) {
		if unlock != nil {
			unlock()
		}
		return LeaseLoad{}, err
	}
	return LeaseLoad{Token: tok, Version: v, LoadErr: err, Unlock: unlock}, nil
}

// tryLockLocked takes the lease on key for owner if it is free (or lapsed) and returns its
// unlock; otherwise it returns the lease that holds it.
func (m *MemoryStore) tryLockLocked(key, owner string, ttl time.Duration) (func(), memLease) {
	now := m.now()
	l, held := m.leases[key]
	if held && now.Before(l.expires) {
		return nil, l
	}
	if held {
		close(l.freed)
	}
	mine := memLease{owner: owner, expires: now.Add(ttl), freed: make(chan struct{})}
	m.leases[key] = mine
	stopRenew := make(chan struct{})
	go m.renew(key, owner, ttl, stopRenew)
	var once sync.Once
	return func() {
		once.Do(func() {
			close(stopRenew)
			m.mu.Lock()
			if cur, ok := m.leases[key]; ok && cur.owner == owner {
				delete(m.leases, key)
				close(cur.freed)
			}
			m.mu.Unlock()
		})
	}, mine
}

// renew extends the lease every ttl/3 while its owner holds it.
func (m *MemoryStore) renew(key, owner string, ttl time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(max(ttl/3, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			m.mu.Lock()
			cur, ok := m.leases[key]
			if !ok || cur.owner != owner {
				m.mu.Unlock()
				return
			}
			cur.expires = m.now().Add(ttl)
			m.leases[key] = cur
			m.mu.Unlock()
		}
	}
}

// Schedule implements DueIndex. It costs O(log n) per key for n keys scheduled in ns.
func (m *MemoryStore) Schedule(ctx context.Context, ns string, dues ...Due) error {
	if err := ctx.Err(); err != nil {
		return err // an error means nothing was written
	}
	m.dueMu.Lock()
	defer m.dueMu.Unlock()
	h := m.dues[ns]
	if h == nil {
		if m.dues == nil {
			m.dues = map[string]*dueHeap{}
		}
		h = &dueHeap{pos: map[string]int{}}
		m.dues[ns] = h
	}
	for _, d := range dues {
		h.set(d.Key, d.At)
	}
	return nil
}

// Unschedule implements DueIndex. It costs O(log n) per key.
func (m *MemoryStore) Unschedule(ctx context.Context, ns string, keys ...string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.dueMu.Lock()
	defer m.dueMu.Unlock()
	if h := m.dues[ns]; h != nil {
		for _, k := range keys {
			h.remove(k)
		}
	}
	return nil
}

// Due implements DueIndex; limit <= 0 means no limit. It costs O(k log k) for the k keys it
// returns, however many keys are scheduled, and holds up only Schedule and Unschedule meanwhile.
func (m *MemoryStore) Due(ctx context.Context, ns string, now time.Time, limit int) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.dueMu.RLock()
	defer m.dueMu.RUnlock()
	h := m.dues[ns]
	if h == nil {
		return nil, nil
	}
	return h.due(now, limit), nil
}

// LoadMany implements BulkLoader.
func (m *MemoryStore) LoadMany(ctx context.Context, keys []string) (map[string]Loaded, error) {
	out := make(map[string]Loaded, len(keys))
	var errs []error
	for _, k := range keys {
		tok, v, err := m.Load(ctx, k)
		switch {
		case err == nil:
			out[k] = Loaded{Token: tok, Version: v}
		case !errors.Is(err, ErrNotFound):
			errs = append(errs, err)
		}
	}
	return out, errors.Join(errs...)
}

// dueHeap is a binary min-heap of keys by due time (then by key, as redisstore's sorted set
// orders ties), with each key's position in pos so that moving or removing a key costs O(log n).
// Its methods other than set, remove and due serve container/heap.
type dueHeap struct {
	items []dueItem
	pos   map[string]int
}

type dueItem struct {
	at  time.Time // without a monotonic reading, so that all comparisons use the wall clock
	key string
}

func (h *dueHeap) set(key string, at time.Time) {
	at = at.Round(0)
	if i, ok := h.pos[key]; ok {
		h.items[i].at = at
		heap.Fix(h, i)
		return
	}
	heap.Push(h, dueItem{at: at, key: key})
}

func (h *dueHeap) remove(key string) {
	if i, ok := h.pos[key]; ok {
		heap.Remove(h, i)
	}
}

// due returns up to limit keys due at or before now, earliest first, without changing the heap:
// a best-first walk that keeps the frontier of the heap's tree in a second, small heap. A node's
// children are due no earlier than it, so the walk stops at nodes that are not due yet and
// touches O(k) nodes for k keys returned.
func (h *dueHeap) due(now time.Time, limit int) []string {
	if len(h.items) == 0 || h.items[0].at.After(now) {
		return nil
	}
	var keys []string
	f := frontier{h: h, idx: []int{0}}
	for f.Len() > 0 && (limit <= 0 || len(keys) < limit) {
		i := heap.Pop(&f).(int)
		keys = append(keys, h.items[i].key)
		for c := 2*i + 1; c <= 2*i+2 && c < len(h.items); c++ {
			if !h.items[c].at.After(now) {
				heap.Push(&f, c)
			}
		}
	}
	return keys
}

func (h *dueHeap) Len() int { return len(h.items) }

func (h *dueHeap) Less(i, j int) bool { return h.items[i].before(h.items[j]) }

func (h *dueHeap) Swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.pos[h.items[i].key] = i
	h.pos[h.items[j].key] = j
}

func (h *dueHeap) Push(x any) {
	it := x.(dueItem)
	h.pos[it.key] = len(h.items)
	h.items = append(h.items, it)
}

func (h *dueHeap) Pop() any {
	n := len(h.items) - 1
	it := h.items[n]
	h.items[n] = dueItem{}
	h.items = h.items[:n]
	delete(h.pos, it.key)
	return it
}

func (a dueItem) before(b dueItem) bool {
	if c := a.at.Compare(b.at); c != 0 {
		return c < 0
	}
	return a.key < b.key
}

// frontier is a min-heap of positions in a dueHeap, ordered as the items they point at.
type frontier struct {
	h   *dueHeap
	idx []int
}

func (f *frontier) Len() int           { return len(f.idx) }
func (f *frontier) Less(i, j int) bool { return f.h.items[f.idx[i]].before(f.h.items[f.idx[j]]) }
func (f *frontier) Swap(i, j int)      { f.idx[i], f.idx[j] = f.idx[j], f.idx[i] }
func (f *frontier) Push(x any)         { f.idx = append(f.idx, x.(int)) }
func (f *frontier) Pop() any {
	n := len(f.idx) - 1
	i := f.idx[n]
	f.idx = f.idx[:n]
	return i
}
