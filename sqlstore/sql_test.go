package sqlstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/shoptoken/shoptoken/seal"
)

// server is a database the tests use.
type server struct {
	d      Dialect
	driver string
	env    string // the variable that overrides dsn
	dsn    string
}

// servers are the databases the tests run against: the PostgreSQL and MariaDB (or MySQL) of the
// development machine, or those the variables name.
var servers = []server{
	{Postgres, "pgx", "SHOPTOKEN_POSTGRES_DSN", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"},
	{MySQL, "mysql", "SHOPTOKEN_MYSQL_DSN", "root@tcp(127.0.0.1:3306)/test?interpolateParams=true"},
}

func (srv server) name() string { return srv.d.String() }

func (srv server) source() string {
	if v := os.Getenv(srv.env); v != "" {
		return v
	}
	return srv.dsn
}

// requireSQL reports whether a missing database fails the tests instead of skipping them (CI).
func requireSQL() bool { return os.Getenv("SHOPTOKEN_REQUIRE_SQL") == "1" }

var probes sync.Map // Dialect → func() error

// probe pings srv once per test binary.
func (srv server) probe() error {
	f, _ := probes.LoadOrStore(srv.d, sync.OnceValue(func() error {
		db, err := sql.Open(srv.driver, srv.source())
		if err != nil {
			return err
		}
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		return db.PingContext(ctx)
	}))
	return f.(func() error)()
}

// open returns a connection pool of srv, closed at cleanup. Without a reachable server the test is
// skipped, or fails when SHOPTOKEN_REQUIRE_SQL=1.
func (srv server) open(tb testing.TB) *sql.DB {
	tb.Helper()
	if err := srv.probe(); err != nil {
		msg := fmt.Sprintf("sqlstore: no %s at %s (set %s); these tests need a real database", srv.name(), srv.source(), srv.env)
		if requireSQL() {
			tb.Fatalf("%s: %v", msg, err)
		}
		tb.Skip(msg)
	}
	db, err := sql.Open(srv.driver, srv.source())
	if err != nil {
		tb.Fatalf("open %s: %v", srv.name(), err)
	}
	db.SetMaxOpenConns(24)
	db.SetMaxIdleConns(24)
	tb.Cleanup(func() { _ = db.Close() })
	return db
}

// eachServer runs f as a subtest per database.
func eachServer(t *testing.T, f func(t *testing.T, srv server)) {
	for _, srv := range servers {
		t.Run(srv.name(), func(t *testing.T) { f(t, srv) })
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// testEnv is one test's tables: a random prefix, whose tables are created at once and dropped at
// cleanup, and two connection pools, as two processes would have.
type testEnv struct {
	tb     testing.TB
	srv    server
	prefix string
	admin  *sql.DB
	pools  [2]*sql.DB
}

func newEnv(tb testing.TB, srv server) *testEnv {
	tb.Helper()
	e := &testEnv{tb: tb, srv: srv, prefix: "stt_" + randomHex(5) + "_"}
	e.admin = srv.open(tb)
	ctx := context.Background()
	if _, err := New(ctx, e.admin, srv.d, WithPrefix(e.prefix), WithCreateTables()); err != nil {
		tb.Fatalf("create tables: %v", err)
	}
	tb.Cleanup(func() {
		_, err := e.admin.ExecContext(context.Background(),
			fmt.Sprintf("DROP TABLE IF EXISTS %[1]stokens, %[1]sleases, %[1]sdue", e.prefix))
		if err != nil {
			tb.Errorf("drop tables: %v", err)
		}
	})
	e.pools[0], e.pools[1] = srv.open(tb), srv.open(tb)
	return e
}

// store returns a Store on pool i%2 (0: "this process", 1: "another process"), closed at cleanup.
func (e *testEnv) store(tb testing.TB, i int, opts ...Option) *Store {
	tb.Helper()
	s, err := New(context.Background(), e.pools[i%2], e.srv.d, append([]Option{WithPrefix(e.prefix)}, opts...)...)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// sql puts the env's table names into query ({tokens}, {leases}, {due}).
func (e *testEnv) sql(query string) string {
	return newReplacer(e.prefix).Replace(query)
}

// withoutRenewal stops leases from being renewed: a holder that has stalled.
func withoutRenewal() Option { return func(c *config) { c.noRenew = true } }

// testSealKey returns a seal key named id whose secret is derived from id.
func testSealKey(id string) seal.Key {
	return seal.Key{ID: id, Secret: bytes.Repeat([]byte(id[:1]), 32)}
}

// testKeyring returns a keyring of testSealKey(id) for each id, the first current.
func testKeyring(tb testing.TB, ids ...string) *seal.Keyring {
	tb.Helper()
	keys := make([]seal.Key, len(ids))
	for i, id := range ids {
		keys[i] = testSealKey(id)
	}
	kr, err := seal.New(keys[0], keys[1:]...)
	if err != nil {
		tb.Fatal(err)
	}
	return kr
}
