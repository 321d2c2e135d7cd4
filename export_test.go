package shoptoken

import "time"

// Hooks for storetest's harness in the external test package (which storetest, importing this
// package, cannot be imported by from the internal one).

// PutForTest stores tok under key at exactly version, bypassing compare-and-swap.
func (m *MemoryStore) PutForTest(key string, tok *Token, version int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.entries[key] = memEntry{tok: tok.Clone(), version: version}
}

// StallForTest takes a lease on key for ttl that is never renewed nor released.
func (m *MemoryStore) StallForTest(key string, ttl time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.leases[key] = memLease{owner: "stalled", expires: m.now().Add(ttl), freed: make(chan struct{})}
}
