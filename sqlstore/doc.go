// Package sqlstore keeps shoptoken tokens in a SQL database, PostgreSQL or MySQL/MariaDB, so that
// a fleet of processes shares one token per key, one process at a time refreshes it, and a
// rotated refresh token outlives a restart of everything but the database. Its Store implements
// shoptoken.Store, shoptoken.Locker, shoptoken.LeaseLoader, shoptoken.Watcher,
// shoptoken.BulkLoader and shoptoken.DueIndex on a *sql.DB, and passes the storetest suite on
// both databases.
//
//	db, err := sql.Open("pgx", "postgres://app@db/app") // the driver is yours: the package imports none
//	store, err := sqlstore.New(ctx, db, sqlstore.Postgres, sqlstore.WithCreateTables())
//	defer store.Close()
//	cache, err := shoptoken.NewCache(refresher,
//		shoptoken.WithKey(shoptoken.Key{Platform: "youzan", App: clientID, Shop: "88888"}),
//		shoptoken.WithStore(store))
//
// # Dialects
//
// Postgres is PostgreSQL 9.5 or later; MySQL is MySQL 5.7 or later and MariaDB 10.3 or later, on
// InnoDB. The tests run on PostgreSQL 15 through github.com/jackc/pgx/v5/stdlib and on MariaDB
// 10.11 through github.com/go-sql-driver/mysql. With go-sql-driver/mysql, open the database with
// interpolateParams=true: otherwise the driver prepares every statement on the server first, a
// second round trip each time.
//
// # Tables and the migration
//
// Three tables, named with a prefix (WithPrefix, default "shoptoken_"):
//
//	shoptoken_tokens   store_key (primary key), version, token (NULL: deleted), updated_at
//	shoptoken_leases   store_key (primary key), owner, expires_at
//	shoptoken_due      namespace, store_key (primary key), due_at (Unix ms); index (namespace, due_at, store_key)
//
// Keys and namespaces are binary strings (bytea, VARBINARY): they compare byte for byte, case and
// all, and may hold any byte; a key has at most 1024 bytes and a namespace 512. The token column
// holds the token encoded as JSON, as redisstore and filestore store it, or sealed (WithSeal), and
// is opaque to everything else: sealing is turned on without a change of schema. Times in the
// tables are the database's: now() on PostgreSQL, UTC_TIMESTAMP(6) on MySQL, whatever each
// session's time zone.
//
// The files migrations/postgres.sql and migrations/mysql.sql of this module create them; Migration
// returns their text for another prefix, to read and run with your own migration tool, and
// WithCreateTables runs it at New. Every statement uses IF NOT EXISTS and may run again.
//
// # Round trips
//
// Statements, counted at the driver (TestStore_roundTrips). Each is one round trip with
// go-sql-driver/mysql and interpolateParams=true, and with pgx once its statement cache holds the
// statement (pgx prepares a statement text it has not seen on a connection: one more round trip,
// the first time on each connection, and for every new batch size of Schedule, Unschedule and
// LoadMany's last batch):
//
//	                                        PostgreSQL   MySQL
//	Load, Delete, Save with prev > 0        1            1
//	Save with prev 0                        1            1; 2 over a deleted or damaged key
//	Lock of a free lease, unlock            1            1; 2 for a key's first lease
//	TryLockLoad                             1            2 (the lease, then Load)
//	Watch                                   1 for a key's first watch, then none
//	Schedule or Unschedule of N keys        ceil(N/5000)
//	Due                                     1
//	LoadMany of N keys                      ceil(N/1000) queries, 4 in flight
//
// Lock of a lease held by another costs an attempt per poll interval (WithPollInterval, default
// 250 ms) until it is freed; the holder renews it with one statement every ttl/3. Watching costs
// one query per poll interval for all the keys a Store watches, and none while nothing is watched.
//
// # Versions and compare-and-swap
//
// Save is one statement that writes the token only if the stored version is still prev:
// UPDATE ... WHERE version = prev AND token IS NOT NULL for a stored token, and for prev 0 an
// INSERT that, on PostgreSQL, replaces a tombstone or damage in the same statement (ON CONFLICT DO
// UPDATE ... WHERE). MySQL's ON DUPLICATE KEY UPDATE has no WHERE, so there a Save with prev 0 is
// an INSERT IGNORE and, when the key has a row, an UPDATE that replaces it only if it is a
// tombstone or damage; rows are never removed, so the two decide as one statement would. Of any
// number of concurrent writers with the same prev exactly one wins; the others get
// shoptoken.ErrConflict.
//
// Versions of a key never repeat: Delete leaves a tombstone (the row, with a NULL token and the
// next version), so a writer that read a version before the Delete cannot write after it. Load of
// a deleted key returns shoptoken.ErrNotFound and version 0, as for a key never saved, and Save
// with prev 0 recreates it, continuing above the tombstone's version. Tombstones are a row each
// and are kept. Versions stay within 1..shoptoken.MaxVersion; the version after MaxVersion is 1
// (shoptoken.NextVersion).
//
// # Damaged rows
//
// Load reports, with an error wrapping shoptoken.ErrCorrupt that never quotes the stored value:
//
//   - a token that is not a JSON object of a token's shape: with the stored version, which Save
//     accepts as prev, so the replacement continues the key's versions;
//   - a version outside 1..MaxVersion (written by hand or by another program): with version 0,
//     and Save with prev 0 replaces the row, starting again at version 1.
//
// The statements read a row exactly as Load does. Delete turns damage into a tombstone. LoadMany
// reports damaged keys in its error the same way, leaving them out of its map, and TryLockLoad
// reports them in its LeaseLoad as Load would.
//
// # Sealing
//
// WithSeal(kr) seals every token the Store writes with a seal.Keyring, AES-256-GCM bound to the
// store key: the token column holds "seal:v1:<key id>:..." and a database dump, a replica or a
// backup shows no access or refresh token (TestStore_WithSeal_noPlaintextAtRest scans every
// column of every row). Tokens stored in clear before sealing was turned on still load, and are
// sealed by the next Save of their key; Reseal rewrites with the current key the ones nothing
// writes, the last step of a key rotation (package seal says how to roll keys across a fleet).
// A token that does not open is damage (shoptoken.ErrCorrupt, wrapping seal.ErrUnknownKey or
// seal.ErrDamaged), which a Cache replaces. The keys and the versions stay in clear: they are
// what the statements compare.
//
// # Leases
//
// A lease is a row of the leases table: a random owner id and an expiry of now + ttl by the
// database's clock, so that hosts whose clocks disagree still agree on when a lease lapses. Lock
// and TryLockLoad take it if it has no row or has expired; while it is held a goroutine extends it
// every ttl/3 (compare-and-update on the owner), so a live holder keeps it however long it works,
// and a dead one loses it after ttl. unlock stops the renewal and releases the lease only if this
// owner still holds it: compare-and-delete on PostgreSQL; on MySQL compare-and-expire, because
// InnoDB deadlocks concurrent INSERTs of a key whose row is being deleted. A statement that the
// database rolled back for a deadlock is run again, up to twice.
//
// A lease cannot stop a holder that stalls past its ttl (a GC pause, a frozen VM) from waking up
// and writing. The version is the fence: the stalled holder's Save carries the version it read,
// the next holder has saved since, and the stalled Save gets ErrConflict. TestFleet_fencing shows
// it with a process frozen by SIGSTOP.
//
// # Change notification
//
// By default a Store polls: every poll interval it reads the versions of the keys it watches, in
// one query, and wakes their watchers on a change; a Save or Delete through the same Store wakes
// them at once, and an unlock through it wakes its Lock waiters at once. On PostgreSQL, every
// Save, Delete and unlock also sends a notification (pg_notify, in the same statement, delivered
// at commit) on the channel PREFIXchanges; a Store given WithListener listens on it, and wakes
// watchers and lease waiters within a round trip of a change made by any process. LISTEN needs a
// connection of its own that database/sql cannot express, so the listener is an interface, with a
// pgx adapter of a dozen lines in Example_listener; polling goes on beside it and covers what a
// broken listener misses.
//
// # When the database is down
//
// Every method returns the driver's error wrapped with the operation and key ("sqlstore: load
// \"k\": dial tcp ...: connection refused"); it is never shoptoken.ErrNotFound or
// shoptoken.ErrConflict, and errors.Is and errors.As reach the cause. A Save that failed this way
// may or may not have been applied; Load before retrying. Watchers are not woken by an outage.
//
// # Concurrency
//
// A Store is safe for concurrent use. It does not own the *sql.DB: Close stops the Store's polling
// and listener and leaves the database open. Size the pool (sql.DB.SetMaxOpenConns) for the
// callers: LoadMany uses up to four connections at once.
package sqlstore
