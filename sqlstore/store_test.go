package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
)

func TestNew_refuses(t *testing.T) {
	db, err := sql.Open("pgx", "postgres://nobody@127.0.0.1:1/none") // never connects
	require.NoError(t, err)
	defer db.Close()
	ctx := context.Background()
	dial := func(context.Context) (Listener, error) { return nil, errors.New("unused") }
	tests := []struct {
		name string
		db   *sql.DB
		d    Dialect
		opts []Option
		want string
	}{
		{"nil db", nil, Postgres, nil, "db is nil"},
		{"no dialect", db, 0, nil, "unknown dialect"},
		{"upper-case prefix", db, Postgres, []Option{WithPrefix("App_")}, "table prefix"},
		{"quote in prefix", db, MySQL, []Option{WithPrefix(`a"; DROP TABLE x; --`)}, "table prefix"},
		{"long prefix", db, MySQL, []Option{WithPrefix(strings.Repeat("a", 41))}, "table prefix"},
		{"listener on MySQL", db, MySQL, []Option{WithListener(dial)}, "needs PostgreSQL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(ctx, tt.db, tt.d, tt.opts...)
			require.Error(t, err)
			assert.Nil(t, s)
			assert.Contains(t, err.Error(), tt.want)
			assert.True(t, strings.HasPrefix(err.Error(), "sqlstore: "), err.Error())
		})
	}
	s, err := New(ctx, db, Postgres, WithPrefix("a"), WithListener(dial), WithPollInterval(-1))
	require.NoError(t, err, "New touches the database only to create tables")
	assert.Equal(t, 250*time.Millisecond, s.cfg.poll)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close())
	_, _, err = s.Watch(ctx, "k")
	require.ErrorIs(t, err, ErrClosed)
}

func TestMigration(t *testing.T) {
	for _, d := range []Dialect{Postgres, MySQL} {
		t.Run(d.String(), func(t *testing.T) {
			def, err := Migration(d, "")
			require.NoError(t, err)
			same, err := Migration(d, DefaultPrefix)
			require.NoError(t, err)
			assert.Equal(t, def, same)
			for _, table := range []string{"shoptoken_tokens", "shoptoken_leases", "shoptoken_due"} {
				assert.Contains(t, def, "CREATE TABLE IF NOT EXISTS "+table+" (")
			}

			m, err := Migration(d, "app1_")
			require.NoError(t, err)
			assert.NotContains(t, m, "shoptoken_", "every name takes the prefix")
			stmts := statements(m)
			want := map[Dialect]int{Postgres: 4, MySQL: 3}[d] // PostgreSQL creates its index apart
			require.Len(t, stmts, want)
			for _, s := range stmts {
				assert.NotContains(t, s, ";")
				assert.NotContains(t, s, "--")
				assert.Regexp(t, `^CREATE (TABLE|INDEX) IF NOT EXISTS app1_`, s)
			}
		})
	}
	_, err := Migration(Dialect(7), "")
	require.ErrorContains(t, err, "unknown dialect")
	_, err = Migration(Postgres, "1abc_")
	require.ErrorContains(t, err, "table prefix")
	assert.Equal(t, "Dialect(7)", Dialect(7).String())
}

// TestMigration_runsTwice: the migration may run again over existing tables, and New with
// WithCreateTables on a database that has them changes nothing stored.
func TestMigration_runsTwice(t *testing.T) {
	eachServer(t, func(t *testing.T, srv server) {
		e := newEnv(t, srv)
		ctx := context.Background()
		s := e.store(t, 0)
		v, err := s.Save(ctx, "k", &shoptoken.Token{AccessToken: "at"}, 0)
		require.NoError(t, err)
		again, err := New(ctx, e.admin, srv.d, WithPrefix(e.prefix), WithCreateTables())
		require.NoError(t, err)
		tok, got, err := again.Load(ctx, "k")
		require.NoError(t, err)
		assert.Equal(t, v, got)
		assert.Equal(t, "at", tok.AccessToken)
	})
}

// TestStore_noDriver: the package imports no SQL driver (nor anything but the standard library and
// the shoptoken root): the user brings the driver.
func TestStore_noDriver(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	out, err := exec.Command(goBin, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	require.NoError(t, err)
	for _, p := range strings.Fields(string(out)) {
		if !strings.HasPrefix(p, "github.com/shoptoken/shoptoken") || strings.Contains(p, "redisstore") {
			t.Errorf("sqlstore depends on %s", p)
		}
	}
}

// TestStore_limits: keys, namespaces and tokens the tables cannot hold are refused with an error
// before they reach the database, which could otherwise truncate them.
func TestStore_limits(t *testing.T) {
	eachServer(t, func(t *testing.T, srv server) {
		e := newEnv(t, srv)
		s := e.store(t, 0)
		ctx := context.Background()
		long := strings.Repeat("k", maxKey+1)
		_, err := s.Save(ctx, long, &shoptoken.Token{AccessToken: "at"}, 0)
		require.ErrorContains(t, err, "1025 bytes")
		assert.False(t, errors.Is(err, shoptoken.ErrConflict))
		_, _, err = s.Load(ctx, long)
		require.ErrorContains(t, err, "1025 bytes")
		require.ErrorContains(t, s.Delete(ctx, long), "1025 bytes")
		_, err = s.Lock(ctx, long, time.Second)
		require.ErrorContains(t, err, "1025 bytes")
		_, err = s.TryLockLoad(ctx, long, time.Second)
		require.ErrorContains(t, err, "1025 bytes")
		_, err = s.TryLockLoad(ctx, "k", time.Microsecond)
		require.ErrorContains(t, err, "shorter than a millisecond")
		_, err = s.LoadMany(ctx, []string{"a", long})
		require.ErrorContains(t, err, "1025 bytes")
		ns := strings.Repeat("n", maxNamespace+1)
		require.ErrorContains(t, s.Schedule(ctx, ns, shoptoken.Due{Key: "k", At: time.Now()}), "513 bytes")
		require.ErrorContains(t, s.Schedule(ctx, "ns", shoptoken.Due{Key: long, At: time.Now()}), "1025 bytes")

		// The longest key fits, byte for byte.
		k := strings.Repeat("\xff", maxKey)
		v, err := s.Save(ctx, k, &shoptoken.Token{AccessToken: "at"}, 0)
		require.NoError(t, err)
		_, got, err := s.Load(ctx, k)
		require.NoError(t, err)
		assert.Equal(t, v, got)
	})
}

// TestStore_down: with the database unreachable, every method fails with an error that is neither
// ErrNotFound nor ErrConflict, and KindOf calls it ErrUnavailable.
func TestStore_down(t *testing.T) {
	for _, srv := range []server{
		{Postgres, "pgx", "", "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=2"},
		{MySQL, "mysql", "", "root@tcp(127.0.0.1:1)/test?timeout=2s"},
	} {
		t.Run(srv.name(), func(t *testing.T) {
			db, err := sql.Open(srv.driver, srv.dsn)
			require.NoError(t, err)
			defer db.Close()
			ctx := context.Background()
			s, err := New(ctx, db, srv.d)
			require.NoError(t, err)
			defer s.Close()
			_, _, err = s.Load(ctx, "k")
			check := func(what string, err error) {
				t.Helper()
				require.Error(t, err, what)
				assert.False(t, errors.Is(err, shoptoken.ErrNotFound) || errors.Is(err, shoptoken.ErrConflict), "%s: %v", what, err)
				assert.Equal(t, shoptoken.ErrUnavailable, shoptoken.KindOf(err), "%s: %v", what, err)
			}
			check("Load", err)
			_, err = s.Save(ctx, "k", &shoptoken.Token{AccessToken: "at"}, 0)
			check("Save", err)
			check("Delete", s.Delete(ctx, "k"))
			_, err = s.TryLockLoad(ctx, "k", time.Second)
			check("TryLockLoad", err)
			_, err = s.Lock(ctx, "k", time.Second)
			check("Lock", err)
			_, err = s.LoadMany(ctx, []string{"k"})
			check("LoadMany", err)
			check("Schedule", s.Schedule(ctx, "ns", shoptoken.Due{Key: "k", At: time.Now()}))
			_, err = s.Due(ctx, "ns", time.Now(), 0)
			check("Due", err)
		})
	}
}

// TestStore_listenerFails: a listener that cannot connect leaves the Store polling: watches are
// woken all the same, and Close returns.
func TestStore_listenerFails(t *testing.T) {
	srv := servers[0]
	e := newEnv(t, srv)
	dials := make(chan struct{}, 100)
	s := e.store(t, 0, WithPollInterval(50*time.Millisecond), WithListener(func(context.Context) (Listener, error) {
		dials <- struct{}{}
		return nil, errors.New("no listener today")
	}))
	peer := e.store(t, 1)
	ctx := context.Background()
	ch, stop, err := s.Watch(ctx, "k")
	require.NoError(t, err)
	defer stop()
	_, err = peer.Save(ctx, "k", &shoptoken.Token{AccessToken: "at"}, 0)
	require.NoError(t, err)
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("a watch with a failing listener was not woken by polling")
	}
	assert.NotEmpty(t, dials, "the listener was dialled")
	require.NoError(t, s.Close())
}
