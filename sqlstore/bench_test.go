package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/shoptoken/shoptoken/internal/storebench"
)

// The benchmarks are storebench's, which redisstore runs too; each runs on PostgreSQL and MariaDB
// in turn. Side by side with redisstore, in one run (from the repository root, whose go.work
// lists both modules):
//
//	go test -run '^$' -bench . -benchtime 2s ./redisstore ./sqlstore
//
// Without a server its sub-benchmarks are skipped; SHOPTOKEN_REQUIRE_SQL=1 makes a missing SQL
// server a failure.

// benchEach runs f as a sub-benchmark per database, with a Store on tables of its own.
func benchEach(b *testing.B, f func(b *testing.B, e *testEnv, s *Store)) {
	for _, srv := range servers {
		b.Run(srv.name(), func(b *testing.B) {
			e := newEnv(b, srv)
			f(b, e, e.store(b, 0))
		})
	}
}

func BenchmarkSave(b *testing.B) {
	benchEach(b, func(b *testing.B, _ *testEnv, s *Store) { storebench.Save(b, s) })
}

func BenchmarkLoad(b *testing.B) {
	benchEach(b, func(b *testing.B, _ *testEnv, s *Store) { storebench.Load(b, s) })
}

// BenchmarkLease is a refresh's lease round trip: TryLockLoad of a free lease, then its Unlock.
func BenchmarkLease(b *testing.B) {
	benchEach(b, func(b *testing.B, _ *testEnv, s *Store) { storebench.Lease(b, s) })
}

// BenchmarkLoadMany is a cold start: LoadMany of storebench.ColdStart tokens.
func BenchmarkLoadMany(b *testing.B) {
	benchEach(b, func(b *testing.B, e *testEnv, s *Store) {
		storebench.LoadMany(b, s, e.fill(b, s, storebench.ColdStart))
	})
}

// fill writes n fleet tokens at version 1 with multi-row INSERTs of 1000, as a migration from
// another store would, each encoded as s encodes it.
func (e *testEnv) fill(b *testing.B, s *Store, n int) []string {
	b.Helper()
	ctx := context.Background()
	keys := storebench.FleetKeys(n)
	exp := storebench.FleetExpiry()
	now := "now()"
	if e.srv.d == MySQL {
		now = "UTC_TIMESTAMP(6)"
	}
	for lo := 0; lo < n; lo += 1000 {
		var q strings.Builder
		q.WriteString(e.sql("INSERT INTO {tokens} (store_key, version, token, updated_at) VALUES "))
		var args []any
		for i := lo; i < min(lo+1000, n); i++ {
			if i > lo {
				q.WriteString(", ")
			}
			if e.srv.d == Postgres {
				fmt.Fprintf(&q, "($%d, 1, $%d, %s)", len(args)+1, len(args)+2, now)
			} else {
				fmt.Fprintf(&q, "(?, 1, ?, %s)", now)
			}
			data, err := s.codec.encode(keys[i], storebench.FleetToken(i, exp))
			if err != nil {
				b.Fatal(err)
			}
			args = append(args, []byte(keys[i]), data)
		}
		if _, err := e.admin.ExecContext(ctx, q.String(), args...); err != nil {
			b.Fatal(err)
		}
	}
	return keys
}
