package sqlstore

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/batchload"
	"github.com/shoptoken/shoptoken/seal"
)

// Store is a shoptoken.Store, shoptoken.Locker, shoptoken.LeaseLoader, shoptoken.Watcher,
// shoptoken.DueIndex and shoptoken.BulkLoader on a SQL database. It is safe for concurrent use.
// Create it with New; the zero value is not usable.
type Store struct {
	db      *sql.DB
	d       Dialect
	cfg     config
	q       queries
	channel string // the PostgreSQL notification channel of the store's tables
	codec   codec  // what the token column holds
	hub     *hub

	closeOnce sync.Once
}

var (
	_ shoptoken.Store       = (*Store)(nil)
	_ shoptoken.Locker      = (*Store)(nil)
	_ shoptoken.LeaseLoader = (*Store)(nil)
	_ shoptoken.Watcher     = (*Store)(nil)
	_ shoptoken.DueIndex    = (*Store)(nil)
	_ shoptoken.BulkLoader  = (*Store)(nil)
)

// ErrClosed is returned by Watch after Close.
var ErrClosed = errors.New("sqlstore: store closed")

// Option configures a Store.
type Option func(*config)

type config struct {
	prefix string
	kr     *seal.Keyring // nil: tokens are stored in clear
	create bool
	poll   time.Duration
	listen func(ctx context.Context) (Listener, error)
	// noRenew stops leases from being renewed (tests: a holder that has stalled).
	noRenew bool
}

// WithPrefix sets the prefix of the Store's table names: PREFIXtokens, PREFIXleases and
// PREFIXdue. The default is DefaultPrefix, "shoptoken_". It is 1 to 40 of a-z, 0-9 and _, not
// starting with a digit; New refuses any other. Give each application (or environment) sharing
// one database its own prefix, or its own schema.
func WithPrefix(prefix string) Option {
	return func(c *config) { c.prefix = prefix }
}

// WithSeal seals every token the Store writes with kr's current key, and opens tokens sealed with
// any key kr lists: the token column then holds "seal:v1:<key id>:..." instead of the token's JSON,
// bound to the store key (package seal says how, and how to rotate keys across a fleet). Load,
// LoadMany and TryLockLoad open sealed tokens and still read tokens stored in clear (written
// before sealing was turned on); those are sealed by the next Save of their key, or by Reseal. A
// token sealed with a key kr does not list, or altered, or moved under another key, is damage
// (shoptoken.ErrCorrupt, also wrapping seal.ErrUnknownKey or seal.ErrDamaged), and so is every
// sealed token for a Store without a keyring: a Cache replaces it. A nil kr stores in clear.
//
// Sealing costs a Save one AES-GCM seal and a load one open of well under a microsecond, and the
// column about a third more bytes (base64url of the nonce, ciphertext and tag).
func WithSeal(kr *seal.Keyring) Option {
	return func(c *config) { c.kr = kr }
}

// WithCreateTables makes New run the migration (see Migration): it creates the tables and the
// index that do not exist yet, and leaves existing ones as they are. Without it, New touches
// nothing and the tables must exist before the Store is used.
func WithCreateTables() Option {
	return func(c *config) { c.create = true }
}

// WithPollInterval sets how often the Store reads the versions of the keys it watches, and how
// often Lock tries again for a lease another process holds. Zero or negative keeps the default,
// 250 milliseconds. Polling runs only while something waits: one query per interval for all the
// keys watched through the Store.
func WithPollInterval(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.poll = d
		}
	}
}

// WithListener makes a PostgreSQL Store listen for the notifications that every PostgreSQL Store
// sends when it saves or deletes a token or releases a lease, so that Watch and Lock wake within
// a round trip of the change instead of at the next poll. dial opens a connection of its own for
// LISTEN; the Store calls it once it first waits for something, and again after a failure (with
// a back-off). Polling goes on meanwhile, and covers what the listener misses. New refuses the
// option with MySQL, which has no notifications.
func WithListener(dial func(ctx context.Context) (Listener, error)) Option {
	return func(c *config) { c.listen = dial }
}

// Listener is one PostgreSQL connection in LISTEN mode, which database/sql cannot express. The
// package imports no driver; an adapter for pgx is a few lines (see Example_listener), and one
// for lib/pq's Listener about as many.
type Listener interface {
	// Listen subscribes the connection to channel: LISTEN with channel quoted as an identifier.
	Listen(ctx context.Context, channel string) error
	// Wait blocks until a notification arrives on the connection and returns its payload, or
	// returns an error once ctx ends or the connection fails.
	Wait(ctx context.Context) (payload string, err error)
	// Close closes the connection.
	Close() error
}

// New returns a Store on db, whose database speaks dialect d. The Store does not own db: Close
// leaves it open, and db must stay open while the Store is used. ctx bounds New's own work, which
// is the migration with WithCreateTables and nothing otherwise.
//
// db may come from any driver for the dialect; the package imports none. With MySQL, open it with
// interpolateParams=true (github.com/go-sql-driver/mysql), or every statement costs a second
// round trip to prepare it.
func New(ctx context.Context, db *sql.DB, d Dialect, opts ...Option) (*Store, error) {
	cfg := config{prefix: DefaultPrefix, poll: 250 * time.Millisecond}
	for _, o := range opts {
		o(&cfg)
	}
	if db == nil {
		return nil, errors.New("sqlstore: new: db is nil")
	}
	if d != Postgres && d != MySQL {
		return nil, fmt.Errorf("sqlstore: new: unknown dialect %v", d)
	}
	migration, err := Migration(d, cfg.prefix)
	if err != nil {
		return nil, err
	}
	if cfg.listen != nil && d != Postgres {
		return nil, fmt.Errorf("sqlstore: new: WithListener needs PostgreSQL; %v has no notifications", d)
	}
	if cfg.create {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("sqlstore: create tables: %w", err)
		}
		for _, stmt := range statements(migration) {
			if _, err := db.ExecContext(ctx, stmt); err != nil {
				return nil, fmt.Errorf("sqlstore: create tables: %w", err)
			}
		}
	}
	s := &Store{db: db, d: d, cfg: cfg, q: newQueries(d, cfg.prefix), channel: cfg.prefix + "changes", codec: codec{kr: cfg.kr}}
	s.hub = newHub(s)
	return s, nil
}

// Close stops the Store's polling and its listener. Watch channels handed out before stop
// receiving, and later Watch calls fail with ErrClosed. Leases that are held keep being renewed
// until they are unlocked, and Lock keeps working, by polling. Close does not close the database.
func (s *Store) Close() error {
	s.closeOnce.Do(s.hub.close)
	return nil
}

// checkKey refuses a key longer than the tables hold, rather than let a database truncate it.
func checkKey(op, key string) error {
	if len(key) > maxKey {
		return fmt.Errorf("sqlstore: %s: a key of %d bytes; the longest a Store holds is %d", op, len(key), maxKey)
	}
	return nil
}

// notice is the payload of a PostgreSQL notification: the kind ('c' a change, 'u' an unlock)
// and the key in hex, as keys may hold any byte and payloads may not.
func notice(kind byte, key string) string {
	b := make([]byte, 1+hex.EncodedLen(len(key)))
	b[0] = kind
	hex.Encode(b[1:], []byte(key))
	return string(b)
}

// Load implements shoptoken.Store. When there is no token (the key was never saved, or was
// deleted) it returns shoptoken.ErrNotFound and version 0. A row that cannot be read as a token
// makes it return an error wrapping shoptoken.ErrCorrupt, which never quotes the row, and the
// version to pass to Save to replace it: the stored version if it is in 1..MaxVersion, else 0.
//
// If the database cannot be reached, the error wraps the driver's error and is neither
// ErrNotFound nor ErrConflict.
func (s *Store) Load(ctx context.Context, key string) (*shoptoken.Token, int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, fmt.Errorf("sqlstore: load %q: %w", key, err)
	}
	if err := checkKey("load", key); err != nil {
		return nil, 0, err
	}
	var v int64
	var tok sql.Null[[]byte]
	err := s.db.QueryRowContext(ctx, s.q.load, []byte(key)).Scan(&v, &tok)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, 0, shoptoken.ErrNotFound
	}
	if err != nil {
		return nil, 0, fmt.Errorf("sqlstore: load %q: %w", key, err)
	}
	return s.readRow(key, v, tok)
}

// readRow reads a token row as the statements do (see sqlReplaceable): a version out of
// 1..MaxVersion is damage reported with version 0 (also on a tombstone, and 0 with a token); a
// NULL token a tombstone; a token that does not decode (or open), damage at its version.
func (s *Store) readRow(key string, v int64, tok sql.Null[[]byte]) (*shoptoken.Token, int64, error) {
	t, v, _, err := s.readSealed(key, v, tok)
	return t, v, err
}

// readSealed is readRow that also returns the id of the key that sealed the token; "" when it was
// stored in clear.
func (s *Store) readSealed(key string, v int64, tok sql.Null[[]byte]) (_ *shoptoken.Token, _ int64, sealedBy string, _ error) {
	switch {
	case v < 0 || v > shoptoken.MaxVersion || (tok.Valid && v == 0):
		return nil, 0, "", corrupt(key, "the version is outside 1..MaxVersion")
	case !tok.Valid:
		return nil, 0, "", shoptoken.ErrNotFound
	}
	t, by, err := s.codec.decode(key, tok.V)
	if err != nil {
		// Both matchable: shoptoken.ErrCorrupt for the Cache, the cause (seal's kind, say) for an
		// operator. No cause quotes the stored value.
		return nil, v, "", fmt.Errorf("sqlstore: load %q: %w: %w", key, shoptoken.ErrCorrupt, err)
	}
	return t, v, by, nil
}

func corrupt(key, reason string) error {
	return fmt.Errorf("sqlstore: load %q: %w: %s", key, shoptoken.ErrCorrupt, reason)
}

// Save implements shoptoken.Store: it writes tok if the stored version is still prev, in one
// statement (see the package documentation for MySQL's prev 0 over a deleted key), and returns
// the new version. prev is what Load reported: the token's version, 0 for a key never saved or
// deleted, and for damage the version Load returned with shoptoken.ErrCorrupt.
//
// It returns shoptoken.ErrConflict when someone else wrote first. If the database cannot be
// reached, the error wraps the driver's and is not ErrConflict: the write may or may not have
// happened, so Load again before retrying.
func (s *Store) Save(ctx context.Context, key string, tok *shoptoken.Token, prev int64) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("sqlstore: save %q: %w", key, err)
	}
	if tok == nil {
		return 0, fmt.Errorf("sqlstore: save %q: nil token", key)
	}
	if err := checkKey("save", key); err != nil {
		return 0, err
	}
	if prev < 0 || prev > shoptoken.MaxVersion {
		return 0, shoptoken.ErrConflict // no stored version matches
	}
	data, err := s.codec.encode(key, tok)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: save %q: encode: %w", key, err)
	}
	v, err := s.save(ctx, []byte(key), data, prev)
	switch {
	case err == nil:
		s.hub.changed(key)
		return v, nil
	case errors.Is(err, shoptoken.ErrConflict):
		return 0, err
	}
	return 0, fmt.Errorf("sqlstore: save %q: %w", key, err)
}

func (s *Store) save(ctx context.Context, key, data []byte, prev int64) (int64, error) {
	var v int64
	var notified sql.NullString
	if s.d == Postgres {
		var err error
		if prev == 0 {
			err = s.db.QueryRowContext(ctx, s.q.saveNew, key, data, s.channel, notice('c', string(key))).Scan(&v, &notified)
		} else {
			err = s.db.QueryRowContext(ctx, s.q.saveNext, key, data, prev, s.channel, notice('c', string(key))).Scan(&v, &notified)
		}
		if errors.Is(err, sql.ErrNoRows) {
			return 0, shoptoken.ErrConflict
		}
		return v, err
	}
	if prev != 0 {
		n, _, err := s.exec(ctx, s.q.saveNext, data, key, prev)
		switch {
		case err != nil:
			return 0, err
		case n != 1:
			return 0, shoptoken.ErrConflict
		}
		return shoptoken.NextVersion(prev), nil
	}
	n, _, err := s.exec(ctx, s.q.saveNew, key, data)
	switch {
	case err != nil:
		return 0, err
	case n == 1:
		return 1, nil
	}
	n, v, err = s.exec(ctx, s.q.saveOver, data, key)
	switch {
	case err != nil:
		return 0, err
	case n != 1:
		return 0, shoptoken.ErrConflict
	case v < 1 || v > shoptoken.MaxVersion:
		return 0, fmt.Errorf("the database handed back version %d; is it MySQL?", v)
	}
	return v, nil
}

// exec runs a statement and returns the rows it changed and LAST_INSERT_ID (MySQL).
func (s *Store) exec(ctx context.Context, query string, args ...any) (n, id int64, err error) {
	res, err := s.db.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, 0, err
	}
	if n, err = res.RowsAffected(); err != nil {
		return 0, 0, err
	}
	if s.d == MySQL {
		id, _ = res.LastInsertId()
	}
	return n, id, nil
}

// Delete implements shoptoken.Store in one statement. It leaves a tombstone holding the next
// version, so versions of a key never repeat and a writer still holding a version from before the
// Delete gets ErrConflict. After a Delete, Load returns ErrNotFound with version 0, and Save with
// prev 0 recreates the key. Deleting an absent key is not an error; deleting a damaged one clears
// it.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sqlstore: delete %q: %w", key, err)
	}
	if err := checkKey("delete", key); err != nil {
		return err
	}
	var err error
	if s.d == Postgres {
		_, err = s.db.ExecContext(ctx, s.q.delete, []byte(key), s.channel, notice('c', key))
	} else {
		_, err = s.db.ExecContext(ctx, s.q.delete, []byte(key))
	}
	if err != nil {
		return fmt.Errorf("sqlstore: delete %q: %w", key, err)
	}
	s.hub.changed(key)
	return nil
}

// loadBatch is how many keys LoadMany reads in one query, and loadWorkers how many queries it
// keeps in flight (each on a connection of the pool), so that decoding one batch overlaps the
// round trips of the others.
const (
	loadBatch   = 1000
	loadWorkers = 4
)

// LoadMany implements shoptoken.BulkLoader with queries of 1000 keys (WHERE store_key IN ...),
// four in flight at a time: ceil(len(keys)/1000) round trips. Keys without a token (never saved,
// or deleted) are left out of the map. A row that cannot be read as a token is left out too, and
// reported in the error, wrapping shoptoken.ErrCorrupt and naming the key, never the value: Load
// that key to get the version that replaces it. If a query fails, LoadMany stops sending and
// returns what it loaded so far with an error wrapping the cause. The error joins every such
// failure. The tokens are the caller's.
func (s *Store) LoadMany(ctx context.Context, keys []string) (map[string]shoptoken.Loaded, error) {
	if err := ctx.Err(); err != nil {
		return map[string]shoptoken.Loaded{}, fmt.Errorf("sqlstore: load many: %w", err)
	}
	return batchload.Load(keys, loadBatch, loadWorkers, func() batchload.Func[shoptoken.Loaded] {
		return func(batch []string, put func(string, shoptoken.Loaded)) ([]error, error) {
			damage, err := s.loadBatch(ctx, batch, put)
			if err != nil {
				return nil, fmt.Errorf("sqlstore: load many: %w", err)
			}
			return damage, nil
		}
	})
}

// loadBatch reads the rows of keys in one query: it puts the tokens, and returns the damage it
// found.
func (s *Store) loadBatch(ctx context.Context, keys []string, put func(string, shoptoken.Loaded)) ([]error, error) {
	args := make([]any, 0, len(keys))
	for _, k := range keys {
		if err := checkKey("load many", k); err != nil {
			return nil, err
		}
		args = append(args, []byte(k))
	}
	var b strings.Builder
	b.Grow(len(s.q.loadMany) + 7*len(keys))
	b.WriteString(s.q.loadMany)
	placeholders(&b, s.d, 1, len(keys))
	rows, err := s.db.QueryContext(ctx, b.String(), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var damage []error
	for rows.Next() {
		var k []byte
		var v int64
		var tok sql.Null[[]byte]
		if err := rows.Scan(&k, &v, &tok); err != nil {
			return nil, err
		}
		key := string(k)
		t, v, err := s.readRow(key, v, tok)
		switch {
		case err == nil:
			put(key, shoptoken.Loaded{Token: t, Version: v})
		case !errors.Is(err, shoptoken.ErrNotFound):
			damage = append(damage, err)
		}
	}
	return damage, rows.Err()
}
