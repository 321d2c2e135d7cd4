// Package watchhub keeps the watches and lease waits of a store: who waits on which key, what the
// store last saw of each key's state, and a poller that reads the state of the watched keys every
// interval and wakes the watchers of each key whose state changed. redisstore and sqlstore build
// their Watch and their lease waits on it, each adding its own faster delivery on top (Redis
// pub/sub, PostgreSQL LISTEN): the store tells the Hub of the changes and unlocks it hears of,
// and marks a key Active while its changes are sure to reach it that way, which the poller then
// leaves alone.
//
// # Wake-ups
//
// A watcher may be woken without a change (a change heard of twice, or after an outage during
// which one may have been missed), never left asleep after one: it should read the key after a
// wake-up and compare versions, which is what the Cache does. A watcher whose key's state the
// store could not read when the watch began is blind: the first successful poll wakes it.
//
// # Concurrency
//
// A Hub is safe for concurrent use. Its lock (Lock, Unlock) also guards the state a store keeps
// beside it for its own delivery (a subscription, a connection): the callbacks of Join, Leave and
// Close run under it, and so must every use of an Entry.
package watchhub
