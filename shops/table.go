package shops

import (
	"hash/maphash"
	"sync"
	"sync/atomic"

	"github.com/shoptoken/shoptoken"
)

// table maps shop ids to Caches for a million shops with as few cache misses per lookup as a
// map can have: it is sharded (a read lock per shard, so lookups scale with cores) and each shard
// is an open-addressing array of slots holding the key's hash, the key itself when it is short
// (shop ids usually are: a kdt_id, a numeric shop id) and the Cache. A lookup reads one slot, and
// then the Cache it needs anyway; Go's map would also read the key's bytes from wherever they
// were allocated.
type table struct {
	seed   maphash.Seed
	shards [tableShards]tshard
	n      atomic.Int64
}

const tableShards = 256

type tshard struct {
	mu    sync.RWMutex
	slots []slot // power-of-two length; nil until the first insert
	used  int    // occupied slots
	_     [24]byte
}

// inlineKey is the longest shop id kept in the slot itself.
const inlineKey = 22

type slot struct {
	h   uint64
	c   *shoptoken.Cache // nil: empty
	n   uint8            // length of an inline key; longKey: compare with the Cache's shop
	k   [inlineKey]byte
	ref atomic.Bool // CLOCK's reference bit
}

const longKey = 255

func newTable() *table { return &table{seed: maphash.MakeSeed()} }

func (t *table) shard(h uint64) *tshard { return &t.shards[h>>56] }

func (s *slot) matches(h uint64, key string) bool {
	if s.h != h {
		return false
	}
	if s.n != longKey {
		return int(s.n) == len(key) && string(s.k[:s.n]) == key
	}
	return s.c.Key().Shop == key
}

// get returns key's Cache, or nil. touch sets the slot's reference bit (CLOCK).
func (t *table) get(key string, touch bool) *shoptoken.Cache {
	h := maphash.String(t.seed, key)
	sh := t.shard(h)
	sh.mu.RLock()
	var c *shoptoken.Cache
	if mask := uint64(len(sh.slots) - 1); len(sh.slots) > 0 {
		for i := h & mask; ; i = (i + 1) & mask {
			s := &sh.slots[i]
			if s.c == nil {
				break
			}
			if s.matches(h, key) {
				c = s.c
				if touch && !s.ref.Load() {
					s.ref.Store(true)
				}
				break
			}
		}
	}
	sh.mu.RUnlock()
	return c
}

// putIfAbsent stores c under key unless a Cache is there already, which it returns.
func (t *table) putIfAbsent(key string, c *shoptoken.Cache) (*shoptoken.Cache, bool) {
	h := maphash.String(t.seed, key)
	sh := t.shard(h)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if (sh.used+1)*4 > len(sh.slots)*3 {
		sh.grow()
	}
	mask := uint64(len(sh.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := &sh.slots[i]
		if s.c == nil {
			s.h, s.c = h, c
			if len(key) <= inlineKey {
				s.n = uint8(len(key))
				copy(s.k[:], key)
			} else {
				s.n = longKey
			}
			s.ref.Store(true)
			sh.used++
			t.n.Add(1)
			return c, true
		}
		if s.matches(h, key) {
			return s.c, false
		}
	}
}

func (sh *tshard) grow() {
	old := sh.slots
	sh.slots = make([]slot, max(8, 2*len(old)))
	mask := uint64(len(sh.slots) - 1)
	for i := range old {
		o := &old[i]
		if o.c == nil {
			continue
		}
		for j := o.h & mask; ; j = (j + 1) & mask {
			if s := &sh.slots[j]; s.c == nil {
				s.h, s.c, s.n, s.k = o.h, o.c, o.n, o.k
				s.ref.Store(o.ref.Load())
				break
			}
		}
	}
}

// remove deletes key's slot if it still holds c (backward-shift deletion keeps the probe
// sequences whole without tombstones).
func (t *table) remove(key string, c *shoptoken.Cache) bool {
	h := maphash.String(t.seed, key)
	sh := t.shard(h)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.removeLocked(h, key, c, t)
}

func (sh *tshard) removeLocked(h uint64, key string, c *shoptoken.Cache, t *table) bool {
	if len(sh.slots) == 0 {
		return false
	}
	mask := uint64(len(sh.slots) - 1)
	i := h & mask
	for {
		s := &sh.slots[i]
		if s.c == nil {
			return false
		}
		if s.c == c && s.matches(h, key) {
			break
		}
		i = (i + 1) & mask
	}
	// Shift the following entries of the cluster back into the hole where their probe allows.
	for j := (i + 1) & mask; ; j = (j + 1) & mask {
		s := &sh.slots[j]
		if s.c == nil {
			break
		}
		home := s.h & mask
		// s may move to i if i lies cyclically in [home, j).
		if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
			h := &sh.slots[i]
			h.h, h.c, h.n, h.k = s.h, s.c, s.n, s.k
			h.ref.Store(s.ref.Load())
			i = j
		}
	}
	e := &sh.slots[i]
	e.h, e.c, e.n = 0, nil, 0
	e.ref.Store(false)
	sh.used--
	t.n.Add(-1)
	return true
}

// evict runs CLOCK over the table until at most target Caches are left: a Cache used since the
// last pass gets a second chance, keep is never evicted, nor a Cache for which spare says so.
// It returns the Caches it took out, for the caller to close.
func (t *table) evict(target int64, keep *shoptoken.Cache, spare func(*shoptoken.Cache) bool) []*shoptoken.Cache {
	var out []*shoptoken.Cache
	for pass := 0; pass < 2 && t.n.Load() > target; pass++ {
		for si := range t.shards {
			sh := &t.shards[si]
			sh.mu.Lock()
			for i := 0; i < len(sh.slots) && t.n.Load() > target; {
				s := &sh.slots[i]
				if s.c == nil || s.c == keep || spare(s.c) {
					i++
					continue
				}
				if s.ref.Load() {
					s.ref.Store(false)
					i++
					continue
				}
				c := s.c
				key := c.Key().Shop
				sh.removeLocked(s.h, key, c, t)
				out = append(out, c)
				// A later entry may have shifted into slot i: look at it again.
			}
			sh.mu.Unlock()
			if t.n.Load() <= target {
				break
			}
		}
	}
	return out
}

// each calls fn with every Cache, shard by shard (a shard's Caches are copied out first, so that
// fn runs without the shard's lock), until fn returns false.
func (t *table) each(fn func(*shoptoken.Cache) bool) {
	var batch []*shoptoken.Cache
	for si := range t.shards {
		sh := &t.shards[si]
		batch = batch[:0]
		sh.mu.RLock()
		for i := range sh.slots {
			if c := sh.slots[i].c; c != nil {
				batch = append(batch, c)
			}
		}
		sh.mu.RUnlock()
		for _, c := range batch {
			if !fn(c) {
				return
			}
		}
	}
}

// drain removes and returns every Cache.
func (t *table) drain() []*shoptoken.Cache {
	var out []*shoptoken.Cache
	for si := range t.shards {
		sh := &t.shards[si]
		sh.mu.Lock()
		for i := range sh.slots {
			if c := sh.slots[i].c; c != nil {
				out = append(out, c)
			}
		}
		t.n.Add(-int64(sh.used))
		sh.slots, sh.used = nil, 0
		sh.mu.Unlock()
	}
	return out
}
