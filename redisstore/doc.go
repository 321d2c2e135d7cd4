// Package redisstore keeps shoptoken tokens in Redis, so that a fleet of processes shares one token
// per key and one process at a time refreshes it. Its Store implements shoptoken.Store,
// shoptoken.Locker, shoptoken.LeaseLoader, shoptoken.Watcher, shoptoken.BulkLoader and
// shoptoken.DueIndex and shoptoken.FailureIndex on a go-redis v9 UniversalClient: a single node, a Sentinel-backed failover
// client or a Cluster client.
//
// The package is a module of its own (go get github.com/shoptoken/shoptoken/redisstore), so that
// go-redis enters the module graph only of programs that import it.
//
//	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
//	store := redisstore.New(rdb, redisstore.WithPrefix("myapp:"))
//	defer store.Close()
//	cache, err := shoptoken.NewCache(refresher,
//		shoptoken.WithKey(shoptoken.Key{Platform: "youzan", App: clientID, Shop: "88888"}),
//		shoptoken.WithStore(store))
//
// # Key layout
//
// For a store key K (shoptoken.Key.String, "platform/app/shop"), a namespace N
// (shoptoken.Key.Namespace, "platform/app") and the prefix P (default "shoptoken:"):
//
//	P{K}:tok     hash: v (version) and tok (the token as JSON, every field verbatim; with
//	             WithSeal, that JSON sealed: "seal:v1:<key id>:<base64url>")
//	P{K}:lease   string: the random id of the lease holder, with a TTL
//	P{K}:chg     pub/sub channel: the new version after a change, "unlock" after an unlock
//	Pdue:{N}     sorted set: the full store keys of namespace N, scored by when they are due
//	             (Unix milliseconds; Schedule, Unschedule, Due)
//	Pfailures:{N} hash: the full store keys of namespace N whose last refresh failed, each with
//	             {"at","kind","msg"} (RecordFailures, ClearFailures, Failures)
//
// The braces are Redis Cluster hash tags. A key's token, lease and channel share the slot of
// {K}, so that TryLockLoad's script may touch both its lease and its token; every other script
// touches one Redis key. Each namespace's due index is one sorted set in the slot of {N}: every
// due-index command touches that one key, and the indexes of different apps spread over the
// cluster instead of piling into one slot. Namespaces never share a set, so a Keeper of one app
// never sees another app's keys, whatever shares the Redis and the prefix. (Key.Namespace
// escapes braces, so the whole namespace is the tag. Versions before namespaces kept one
// "Pkeeper:due" set; nothing reads it any more, and it may be deleted.)
//
// # Round trips
//
// Counted at the client (TestStore_roundTrips), once the scripts are cached in Redis (the first
// run of a script after Redis starts costs one more: EVALSHA, then EVAL):
//
//	Load, Save, Delete, Lock of a free lease, unlock   1 each
//	TryLockLoad                                       1 (one script: the lease if free, the token)
//	Schedule or Unschedule of N keys                  1 (a ZADD or ZREM per 1000 keys, pipelined)
//	Due                                               1 (ZRANGEBYSCORE with LIMIT)
//	RecordFailures or ClearFailures of N keys         1 (an HSET or HDEL per 1000 keys, pipelined)
//	Failures                                          1 (HGETALL)
//	LeaseInfo (who holds a lease, for operators)      1 (GET and PTTL, pipelined)
//	LoadMany of N keys                                ceil(N/1000) pipelines of HMGET, 4 in flight
//
// Lock of a lease held by another costs one round trip per attempt (it waits for the unlock
// message, or the lease's expiry, in between); the holder renews it with one every ttl/3.
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
// keys in its error the same way, leaving them out of its map, and TryLockLoad reports them in
// its LeaseLoad as Load would.
//
// # Decoding
//
// Tokens are stored as encoding/json writes them, and are read with a decoder of that one shape
// (its fields in order, strings without escapes, RFC 3339 times), four to seven times faster than
// encoding/json, with two allocations for a token without Scope and Extra; anything else, such as
// a token written by hand or with escaped characters, is decoded by encoding/json. The results are the same either
// way (FuzzDecodeToken), so every token written before loads, and processes of earlier versions
// read the tokens this one writes.
//
// # Sealing
//
// Redis often keeps thousands of shops' refresh tokens, and whoever reads its memory, its
// replicas, its RDB or AOF files or a MONITOR stream reads them too. WithSeal(kr) seals every
// token the Store writes with a seal.Keyring (AES-256-GCM, package seal): the tok field then holds
// the sealed token, bound to the store key K, so a value copied under another shop's key does not
// open; versions, leases, channels and the due index are not secret and stay as they were. Load,
// LoadMany and TryLockLoad open what they read; a token stored in clear (written before sealing was
// turned on) still loads, through the same fast decoder, and is sealed by its key's next Save. A
// token that does not open, sealed with a key the keyring lacks (seal.ErrUnknownKey) or altered
// (seal.ErrDamaged), is damage, reported as above with its stored version; a Cache replaces it.
// So every process of a fleet must hold every key in use: roll keys in the three deploys package
// seal describes. Reseal rewrites, with the current key, the tokens of the keys it is given that
// are sealed with an older key or stored in clear, so that the old key can be dropped without
// waiting for every token to be refreshed. Opening costs about 0.4 µs of CPU per token and two allocations, next to a
// Load's round trip of some 20 µs; LoadMany of 100 000 sealed tokens took 1.4 to 1.5 times as long
// as of plain ones on a 2-core machine that also ran Redis (BenchmarkLoadManySealedVsPlain).
//
// # Leases
//
// Lock sets P{K}:lease to a random owner id with SET NX PX ttl. While it is held a goroutine
// extends it every ttl/3 with a compare-and-PEXPIRE script, so a live holder keeps it however long
// it works, and a dead one loses it after ttl. unlock stops the renewal, deletes the lease with a
// compare-and-delete script (never another holder's lease) and publishes "unlock" to wake waiters,
// who otherwise retry when the lease would lapse or every poll interval. TryLockLoad takes the
// lease the same way, in the script that reads the token, and never waits; a lease it takes is
// renewed and released as Lock's.
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
// Load, Save, Delete, LoadMany, Lock, TryLockLoad and the due index return the go-redis error
// wrapped with the operation and key ("redisstore: load \"k\": dial tcp ...: connection
// refused"). It is never shoptoken.ErrNotFound or shoptoken.ErrConflict, errors.Is and errors.As
// reach the cause, and
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
