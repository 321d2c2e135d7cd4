package sqlstore

import (
	"embed"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/shoptoken/shoptoken"
)

// Dialect is the SQL dialect of the database a Store works on.
type Dialect int

// The dialects. MariaDB speaks MySQL's.
const (
	// Postgres is PostgreSQL 9.5 or later (tested on 15), through any database/sql driver, such
	// as github.com/jackc/pgx/v5/stdlib.
	Postgres Dialect = iota + 1
	// MySQL is MySQL 5.7 or later and MariaDB 10.3 or later (tested on MariaDB 10.11), with
	// InnoDB tables, through any database/sql driver, such as github.com/go-sql-driver/mysql.
	MySQL
)

// String returns "postgres" or "mysql".
func (d Dialect) String() string {
	switch d {
	case Postgres:
		return "postgres"
	case MySQL:
		return "mysql"
	}
	return "Dialect(" + strconv.Itoa(int(d)) + ")"
}

// DefaultPrefix is the table prefix of a Store without WithPrefix, and of the migration files.
const DefaultPrefix = "shoptoken_"

// The longest key and namespace a Store holds, in bytes: MySQL's VARBINARY columns of the
// migration, kept for PostgreSQL too so that both dialects accept the same keys.
const (
	maxKey       = 1024
	maxNamespace = 512
)

//go:embed migrations/postgres.sql migrations/mysql.sql
var migrations embed.FS

// prefixRE is what a table prefix may be: lower-case so that neither PostgreSQL's case folding
// nor MySQL's lower_case_table_names changes it, and short enough that every name the migration
// derives from it fits both databases' 63- and 64-character limits.
var prefixRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,39}$`)

// Migration returns the SQL that creates the tables of a Store with table prefix prefix ("" for
// DefaultPrefix) in dialect d: the file migrations/postgres.sql or migrations/mysql.sql of this
// module with the prefix put in. The statements are separated by semicolons at the ends of lines,
// use IF NOT EXISTS, and may run again. WithCreateTables runs them at New.
func Migration(d Dialect, prefix string) (string, error) {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if !prefixRE.MatchString(prefix) {
		return "", fmt.Errorf("sqlstore: table prefix %q: want 1 to 40 of a-z, 0-9 and _, not starting with a digit", prefix)
	}
	var name string
	switch d {
	case Postgres:
		name = "migrations/postgres.sql"
	case MySQL:
		name = "migrations/mysql.sql"
	default:
		return "", fmt.Errorf("sqlstore: unknown dialect %v", d)
	}
	data, err := migrations.ReadFile(name)
	if err != nil {
		return "", fmt.Errorf("sqlstore: migration: %w", err)
	}
	return strings.ReplaceAll(string(data), DefaultPrefix, prefix), nil
}

// statements splits a migration into its statements, leaving out comments.
func statements(migration string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(migration, "\n") {
		if i := strings.Index(line, "--"); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimRight(line, " \t\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(line, ";") {
			out = append(out, strings.TrimSuffix(strings.TrimSpace(cur.String()), ";"))
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}

// maxVersion is shoptoken.MaxVersion in SQL.
var maxVersion = strconv.FormatInt(shoptoken.MaxVersion, 10)

// queries are a Store's SQL statements, with its table names put in.
type queries struct {
	load string
	// saveNew creates a key with prev 0 (PostgreSQL: also over a tombstone or damage); MySQL:
	// INSERT IGNORE, saveOver then replaces a tombstone or damage.
	saveNew, saveOver string
	// saveNext replaces a live token whose version is prev.
	saveNext string
	delete   string

	// lock takes a free or lapsed lease (MySQL: only one with a row; lockOver, the first).
	lock, lockOver, renew, release, tryLockLoad string
	watch                                       string // prefix of the polling query; keys follow

	loadMany  string // prefix of LoadMany's query: the keys follow in parentheses
	schedule  string // prefix of Schedule's INSERT; rows follow, then scheduleEnd
	unsched   string // prefix of Unschedule's DELETE: the keys follow in parentheses
	due, dueN string // Due without and with a limit

	scheduleEnd string
}

// The states a token row can be in, in SQL, as shoptoken.MemoryStore defines them: a version out
// of range, or a token at version 0, is damage; a NULL token is a tombstone.
var (
	// sqlReplaceable: Save with prev 0 may write over the row: a tombstone or damage.
	sqlReplaceable = `(token IS NULL OR version <= 0 OR version > ` + maxVersion + `)`
	// sqlNext is shoptoken.NextVersion of the row for a write with prev 0 or a Delete: the
	// tombstone's or token's version plus one; 1 after MaxVersion and after damage.
	sqlNext = `CASE WHEN version >= 0 AND version < ` + maxVersion + ` AND (token IS NULL OR version > 0) THEN version + 1 ELSE 1 END`
	// sqlBump is the version after prev for a Save over a live token.
	sqlBump = `CASE WHEN version >= ` + maxVersion + ` THEN 1 ELSE version + 1 END`
)

// newReplacer puts the table names of prefix, and the shared expressions, into a statement.
func newReplacer(prefix string) *strings.Replacer {
	return strings.NewReplacer("{tokens}", prefix+"tokens", "{leases}", prefix+"leases", "{due}", prefix+"due",
		"{replaceable}", sqlReplaceable, "{next}", sqlNext, "{bump}", sqlBump)
}

func newQueries(d Dialect, prefix string) queries {
	r := newReplacer(prefix)
	var q queries
	switch d {
	case Postgres:
		// Every write that changes a key or frees a lease notifies the store's channel ($n: the
		// channel, $n+1 the payload), in the same statement, so a listening Store wakes at once.
		q = queries{
			load: `SELECT version, token FROM {tokens} WHERE store_key = $1`,
			// ON CONFLICT's WHERE sees the row as it is once locked, so of concurrent writers
			// with prev 0 exactly one finds it replaceable. In DO UPDATE, "version" and "token"
			// are the existing row's.
			saveNew: `INSERT INTO {tokens} AS t (store_key, version, token, updated_at) VALUES ($1, 1, $2, now())
ON CONFLICT (store_key) DO UPDATE SET version = ` + qualified(sqlNext) + `, token = EXCLUDED.token, updated_at = now()
WHERE t.token IS NULL OR t.version <= 0 OR t.version > ` + maxVersion + `
RETURNING t.version, pg_notify($3, $4)::text`,
			saveNext: `UPDATE {tokens} SET version = {bump}, token = $2, updated_at = now()
WHERE store_key = $1 AND version = $3 AND token IS NOT NULL
RETURNING version, pg_notify($4, $5)::text`,
			delete: `UPDATE {tokens} SET version = {next}, token = NULL, updated_at = now()
WHERE store_key = $1 AND (token IS NOT NULL OR version < 0 OR version > ` + maxVersion + `)
RETURNING version, pg_notify($2, $3)::text`,
			lock: `INSERT INTO {leases} AS l (store_key, owner, expires_at) VALUES ($1, $2, now() + $3::bigint * interval '1 microsecond')
ON CONFLICT (store_key) DO UPDATE SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at
WHERE l.expires_at <= now()
RETURNING 1`,
			renew: `UPDATE {leases} SET expires_at = now() + $3::bigint * interval '1 microsecond' WHERE store_key = $1 AND owner = $2`,
			release: `DELETE FROM {leases} WHERE store_key = $1 AND owner = $2
RETURNING pg_notify($3, $4)::text`,
			// One statement: the lease if free, and the token either way (a LEFT JOIN from one
			// row, so that an absent key still answers).
			tryLockLoad: `WITH l AS (
	INSERT INTO {leases} AS l (store_key, owner, expires_at) VALUES ($1, $2, now() + $3::bigint * interval '1 microsecond')
	ON CONFLICT (store_key) DO UPDATE SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at
	WHERE l.expires_at <= now()
	RETURNING 1
)
SELECT EXISTS (SELECT 1 FROM l), t.version, t.token FROM (SELECT 1) AS one LEFT JOIN {tokens} t ON t.store_key = $1`,
			watch:    `SELECT store_key, version, token IS NULL FROM {tokens} WHERE store_key IN `,
			loadMany: `SELECT store_key, version, token FROM {tokens} WHERE store_key IN `,
			schedule: `INSERT INTO {due} (namespace, store_key, due_at) VALUES `,
			scheduleEnd: `
ON CONFLICT (namespace, store_key) DO UPDATE SET due_at = EXCLUDED.due_at`,
			unsched: `DELETE FROM {due} WHERE namespace = $1 AND store_key IN `,
			due:     `SELECT store_key FROM {due} WHERE namespace = $1 AND due_at <= $2 ORDER BY due_at, store_key`,
			dueN:    `SELECT store_key FROM {due} WHERE namespace = $1 AND due_at <= $2 ORDER BY due_at, store_key LIMIT $3`,
		}
	case MySQL:
		// MySQL evaluates an UPDATE's assignments left to right, each seeing the ones before:
		// the version is always assigned before the token it is computed from. Times are the
		// server's UTC_TIMESTAMP, whatever each session's time zone. ON DUPLICATE KEY UPDATE has
		// no WHERE, so a write with prev 0 is INSERT IGNORE (a new key), then, if the key has a
		// row, an UPDATE that replaces it only if it is a tombstone or damage; rows are never
		// removed, so the pair decides as one statement would. LAST_INSERT_ID(v) hands the new
		// version back in the OK packet.
		q = queries{
			load:     `SELECT version, token FROM {tokens} WHERE store_key = ?`,
			saveNew:  `INSERT IGNORE INTO {tokens} (store_key, version, token, updated_at) VALUES (?, 1, ?, UTC_TIMESTAMP(6))`,
			saveOver: `UPDATE {tokens} SET version = LAST_INSERT_ID({next}), token = ?, updated_at = UTC_TIMESTAMP(6) WHERE store_key = ? AND {replaceable}`,
			saveNext: `UPDATE {tokens} SET version = {bump}, token = ?, updated_at = UTC_TIMESTAMP(6)
WHERE store_key = ? AND version = ? AND token IS NOT NULL`,
			delete: `UPDATE {tokens} SET version = {next}, token = NULL, updated_at = UTC_TIMESTAMP(6)
WHERE store_key = ? AND (token IS NOT NULL OR version < 0 OR version > ` + maxVersion + `)`,
			// A lease row, once written, stays: unlock expires it instead of deleting it, because
			// InnoDB deadlocks concurrent INSERTs of a key whose row is being deleted. So lock
			// takes a lease whose row has expired (or was released), and lockOver, an INSERT
			// IGNORE, the first lease of a key. Of concurrent INSERTs of a new row one wins and
			// the others find the duplicate.
			lock:     `UPDATE {leases} SET owner = ?, expires_at = UTC_TIMESTAMP(6) + INTERVAL ? MICROSECOND WHERE store_key = ? AND expires_at <= UTC_TIMESTAMP(6)`,
			lockOver: `INSERT IGNORE INTO {leases} (store_key, owner, expires_at) VALUES (?, ?, UTC_TIMESTAMP(6) + INTERVAL ? MICROSECOND)`,
			renew:    `UPDATE {leases} SET expires_at = UTC_TIMESTAMP(6) + INTERVAL ? MICROSECOND WHERE store_key = ? AND owner = ?`,
			release:  `UPDATE {leases} SET expires_at = '1970-01-01 00:00:00' WHERE store_key = ? AND owner = ?`,
			watch:    `SELECT store_key, version, token IS NULL FROM {tokens} WHERE store_key IN `,
			loadMany: `SELECT store_key, version, token FROM {tokens} WHERE store_key IN `,
			schedule: `INSERT INTO {due} (namespace, store_key, due_at) VALUES `,
			scheduleEnd: `
ON DUPLICATE KEY UPDATE due_at = VALUES(due_at)`,
			unsched: `DELETE FROM {due} WHERE namespace = ? AND store_key IN `,
			due:     `SELECT store_key FROM {due} WHERE namespace = ? AND due_at <= ? ORDER BY due_at, store_key`,
			dueN:    `SELECT store_key FROM {due} WHERE namespace = ? AND due_at <= ? ORDER BY due_at, store_key LIMIT ?`,
		}
	}
	for _, p := range []*string{&q.load, &q.saveNew, &q.saveOver, &q.saveNext, &q.delete, &q.lock, &q.lockOver,
		&q.renew, &q.release, &q.tryLockLoad, &q.watch, &q.loadMany, &q.schedule, &q.unsched, &q.due, &q.dueN} {
		*p = r.Replace(*p)
	}
	return q
}

// qualified names the columns of expr as the existing row's, t: in ON CONFLICT DO UPDATE an
// unqualified column could be the proposed row's (EXCLUDED) as well.
func qualified(expr string) string {
	return strings.NewReplacer("version", "t.version", "token", "t.token").Replace(expr)
}

// placeholders appends n placeholders in parentheses to b, numbered from first for PostgreSQL:
// "($2, $3, $4)" or "(?, ?, ?)".
func placeholders(b *strings.Builder, d Dialect, first, n int) {
	b.WriteByte('(')
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		if d == Postgres {
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(first + i))
		} else {
			b.WriteByte('?')
		}
	}
	b.WriteByte(')')
}
