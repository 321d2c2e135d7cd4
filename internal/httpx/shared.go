package httpx

import "sync"

// sharedMax bounds the Clients Shared keeps: between sharedMax and 2*sharedMax, the most recently
// used. A program has one or a few Configs per platform; one that builds a new *http.Client or
// Logger for every call gets a new Client every time, as New gives, and no more than that is kept.
const sharedMax = 16

// shared holds the Clients of Shared in two generations: a Client used since the last turn is in
// recent; when recent is full it becomes old and the previous old ones are dropped.
var shared struct {
	mu          sync.Mutex
	recent, old map[Config]*Client
}

// Shared returns New(cfg), the same Client for equal Configs while it is among the ones kept
// (see sharedMax). Configs compare by value, their HTTPClient and Logger by pointer, so equal
// Configs are exactly those New would build alike. A provider's one-off calls (a token fetch, an
// exchange, a revocation) use it so as not to build a resty client per call.
func Shared(cfg Config) *Client {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if c, ok := shared.recent[cfg]; ok {
		return c
	}
	c, ok := shared.old[cfg]
	if !ok {
		c = New(cfg)
	}
	if len(shared.recent) >= sharedMax || shared.recent == nil {
		shared.old, shared.recent = shared.recent, make(map[Config]*Client, sharedMax)
	}
	shared.recent[cfg] = c
	return c
}
