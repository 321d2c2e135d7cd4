package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
)

// countingDriver wraps a driver and counts the statements its connections run (Exec, Query and
// Prepare): with pgx (after its statement cache has seen a statement) and with go-sql-driver/mysql
// and interpolateParams=true, one statement is one round trip.
type countingDriver struct {
	driver.Driver
	n *atomic.Int64
}

func (d countingDriver) Open(name string) (driver.Conn, error) {
	c, err := d.Driver.Open(name)
	if err != nil {
		return nil, err
	}
	return countingConn{c, d.n}, nil
}

type countingConn struct {
	driver.Conn
	n *atomic.Int64
}

func (c countingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	c.n.Add(1)
	return c.Conn.(driver.ExecerContext).ExecContext(ctx, query, args)
}

func (c countingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	c.n.Add(1)
	return c.Conn.(driver.QueryerContext).QueryContext(ctx, query, args)
}

func (c countingConn) Prepare(query string) (driver.Stmt, error) {
	c.n.Add(1)
	return c.Conn.Prepare(query)
}

func (c countingConn) CheckNamedValue(nv *driver.NamedValue) error {
	if ch, ok := c.Conn.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

func (c countingConn) ResetSession(ctx context.Context) error {
	if r, ok := c.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

// TestStore_roundTrips counts the statements of each operation, as the package documentation
// states them.
func TestStore_roundTrips(t *testing.T) {
	eachServer(t, func(t *testing.T, srv server) {
		e := newEnv(t, srv)
		var n atomic.Int64
		raw, err := sql.Open(srv.driver, srv.source())
		require.NoError(t, err)
		drv := raw.Driver()
		require.NoError(t, raw.Close())
		db := sql.OpenDB(dsnConnector{countingDriver{drv, &n}, srv.source()})
		t.Cleanup(func() { _ = db.Close() })
		// No poll in the counted windows: the watched key's polling query would count in them.
		s, err := New(context.Background(), db, srv.d, WithPrefix(e.prefix), WithPollInterval(time.Hour))
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		ctx := context.Background()
		my := func(pg, mysql int64) int64 {
			if srv.d == MySQL {
				return mysql
			}
			return pg
		}
		stmts := func(f func()) int64 {
			before := n.Load()
			f()
			return n.Load() - before
		}
		count := func(what string, want int64, f func()) {
			t.Helper()
			f() // warm: pgx caches the statement, database/sql opens a connection
			assert.Equal(t, want, stmts(f), "statements of %s", what)
		}
		tok := &shoptoken.Token{AccessToken: "at"}
		var v int64
		count("Save of a new key", 1, func() {
			_, err := s.Save(ctx, "new-"+randomHex(4), tok, 0)
			require.NoError(t, err)
		})
		count("Save with prev > 0", 1, func() {
			var err error
			v, err = s.Save(ctx, "k", tok, v)
			require.NoError(t, err)
		})
		count("Load", 1, func() {
			_, _, err := s.Load(ctx, "k")
			require.NoError(t, err)
		})
		count("Delete", 1, func() { require.NoError(t, s.Delete(ctx, "gone")) })
		recreate := func() int64 {
			k := "del-" + randomHex(4)
			_, err := s.Save(ctx, k, tok, 0)
			require.NoError(t, err)
			require.NoError(t, s.Delete(ctx, k))
			return stmts(func() {
				_, err := s.Save(ctx, k, tok, 0)
				require.NoError(t, err)
			})
		}
		recreate()
		assert.Equal(t, my(1, 2), recreate(), "statements of a Save with prev 0 over a deleted key")
		count("TryLockLoad and unlock", my(2, 3), func() {
			ll, err := s.TryLockLoad(ctx, "k", time.Minute)
			require.NoError(t, err)
			require.NotNil(t, ll.Unlock)
			ll.Unlock()
		})
		count("Lock and unlock", 2, func() {
			unlock, err := s.Lock(ctx, "k", time.Minute)
			require.NoError(t, err)
			unlock()
		})
		count("Watch of a key nobody watches", 1, func() {
			_, stop, err := s.Watch(ctx, "w")
			require.NoError(t, err)
			stop()
		})
		_, stop, err := s.Watch(ctx, "w")
		require.NoError(t, err)
		defer stop()
		count("Watch of a watched key", 0, func() {
			_, stop, err := s.Watch(ctx, "w")
			require.NoError(t, err)
			stop()
		})
		dues := make([]shoptoken.Due, 2500)
		keys := make([]string, len(dues))
		for i := range dues {
			keys[i] = fmt.Sprintf("ns/%05d", i)
			dues[i] = shoptoken.Due{Key: keys[i], At: time.Unix(int64(i), 0)}
		}
		count("Schedule of 2500 keys", 1, func() { require.NoError(t, s.Schedule(ctx, "ns", dues...)) })
		count("Due", 1, func() {
			_, err := s.Due(ctx, "ns", time.Unix(100, 0), 10)
			require.NoError(t, err)
		})
		count("Unschedule of 2500 keys", 1, func() { require.NoError(t, s.Unschedule(ctx, "ns", keys...)) })
		count("LoadMany of 2500 keys", 3, func() {
			_, err := s.LoadMany(ctx, keys)
			require.NoError(t, err)
		})
	})
}

// dsnConnector opens connections of a driver with a DSN, as sql.Open does.
type dsnConnector struct {
	d   driver.Driver
	dsn string
}

func (c dsnConnector) Connect(context.Context) (driver.Conn, error) { return c.d.Open(c.dsn) }
func (c dsnConnector) Driver() driver.Driver                        { return c.d }
