// Package redisstore keeps shoptoken tokens in Redis, so that a fleet of processes shares one token
// per key and one process at a time refreshes it. Its Store implements shoptoken.Store,
// shoptoken.Locker, shoptoken.Watcher and (for a shoptoken.Keeper) shoptoken.DueIndex on a go-redis
// v9 UniversalClient: a single node, a Sentinel-backed failover client or a Cluster client.
//
//	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
//	store := redisstore.New(rdb, redisstore.WithPrefix("myapp:"))
//	defer store.Close()
//	cache, err := shoptoken.NewCache(refresher, shoptoken.WithStore(store, "youzan:88888"))
//
// # Key layout
//
// For a key K and the prefix P (default "shoptoken:"):
//
//	P{K}:tok     hash: v (version) and tok (the token as JSON, every field verbatim)
//	P{K}:lease   string: the random id of the lease holder, with a TTL
//	P{K}:chg     pub/sub channel: the new version after a change, "unlock" after an unlock
//	Pkeeper:due  sorted set: keys scored by when they are due for refresh (Schedule, Due)
//
// The braces are a Redis Cluster hash tag: one key's data lives in one slot. Every script touches
// one Redis key only, and the due index is a single key, so the Store works on Cluster unchanged.
//
// # Versions and compare-and-swap
//
// Save runs a Lua script that writes the token only if the stored version is still prev, bumps the
// version and publishes it; otherwise it returns shoptoken.ErrConflict. Versions of a key never
// repeat: Delete leaves a tombstone (the hash with a bumped v and no tok) instead of removing the
// hash, so a writer that read a version before the Delete cannot write after it. Load of a deleted
// key returns shoptoken.ErrNotFound and version 0, as for a key never saved, and Save with prev 0
// recreates it, continuing above the tombstone's version. Tombstones are a few bytes and are kept.
//
// Versions are stored as decimal digits and stay within 1..shoptoken.MaxVersion (1<<53-1), which
// Lua's numbers hold exactly; the version after MaxVersion is 1 (shoptoken.NextVersion).
//
// # Damaged values
//
// Load reports, with an error wrapping shoptoken.ErrCorrupt that never quotes the stored value:
//
//   - a token that is not a JSON object of the right shape: with the stored version, which Save
//     accepts as prev, so the replacement continues the key's versions;
//   - a version that is not plain decimal digits in 1..MaxVersion ("9223372036854775807", "1e3",
//     "v3"), a token without a version, or a key of another Redis type: with version 0.
//
// The scripts read a key exactly as Load does, so Save with prev 0 is accepted while, and only
// while, the version is unreadable or out of range: the replacement clears the hash and starts again
// at version 1. The first writer to replace damage wins; the others find version 1, not the damage,
// and get shoptoken.ErrConflict. Delete turns damage into a tombstone. LoadMany reports damaged
// keys in its error the same way, leaving them out of its map.
//
// # Leases
//
// Lock sets P{K}:lease to a random owner id with SET NX PX ttl. While it is held a goroutine
// extends it every ttl/3 with a compare-and-PEXPIRE script, so a live holder keeps it however long
// it works, and a dead one loses it after ttl. unlock stops the renewal, deletes the lease with a
// compare-and-delete script (never another holder's lease) and publishes "unlock" to wake waiters,
// who otherwise retry when the lease would lapse or every poll interval.
//
// A lease cannot stop a holder that stalls past its ttl (a GC pause, a frozen VM) from waking up
// and writing. The version is the fence: the stalled holder's Save carries the version it read,
// the next holder has saved since, and the stalled Save gets ErrConflict.
//
// # Watching
//
// Watch and lease waits share one pub/sub connection per Store, opened on first use and
// subscribed to one channel per watched key, so thousands of waiters cost thousands of map entries
// and not thousands of connections. When pub/sub is not delivering (connection lost, Redis down,
// a proxy that refuses SUBSCRIBE), watched keys are polled for their version every poll interval
// (WithPollInterval, default one second) until the subscription is confirmed again.
//
// # When Redis is down
//
// Load, Save, Delete, LoadMany, Lock and the due index return the go-redis error wrapped with the
// operation and key ("redisstore: load \"k\": dial tcp ...: connection refused"). It is never
// shoptoken.ErrNotFound or shoptoken.ErrConflict, errors.Is and errors.As reach the cause, and
// shoptoken.KindOf reports network failures and timeouts as shoptoken.ErrUnavailable. A Save that
// failed this way may or may not have been applied; Load before retrying. go-redis's own retries
// (Options.MaxRetries and DialerRetries) run first, so the error takes as long as they do.
// Watchers are not woken by an outage itself, and may be woken once when Redis is back.
//
// # Concurrency
//
// A Store is safe for concurrent use. It does not own the Redis client: Close stops the Store's
// pub/sub connection and leaves the client open.
package redisstore
