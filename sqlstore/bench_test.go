package sqlstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/redisstore"
)

// The benchmarks run each operation on redisstore, PostgreSQL and MariaDB side by side, in one
// run, on the same machine (redis first: it is the reference):
//
//	go test -run '^$' -bench . -benchtime 2s ./sqlstore
//
// Without a server its sub-benchmarks are skipped; SHOPTOKEN_REQUIRE_SQL=1 makes a missing SQL
// server a failure.

// benchStore is what the benchmarks use of a store.
type benchStore interface {
	shoptoken.Store
	shoptoken.LeaseLoader
	shoptoken.BulkLoader
}

// target is one store to benchmark: open returns a store of its own, and fill saves n fleet
// tokens into it the fastest way the store allows.
type target struct {
	name string
	open func(b *testing.B) (benchStore, func(b *testing.B, n int) []string)
}

func targets() []target {
	ts := []target{{"redis", openRedis}}
	for _, srv := range servers {
		ts = append(ts, target{srv.name(), func(b *testing.B) (benchStore, func(*testing.B, int) []string) {
			e := newEnv(b, srv)
			return e.store(b, 0), e.fill
		}})
	}
	return ts
}

func benchEach(b *testing.B, f func(b *testing.B, s benchStore, fill func(*testing.B, int) []string)) {
	for _, t := range targets() {
		b.Run(t.name, func(b *testing.B) {
			s, fill := t.open(b)
			f(b, s, fill)
		})
	}
}

func benchToken() *shoptoken.Token {
	return &shoptoken.Token{
		AccessToken:  "at-0123456789abcdef0123456789abcdef",
		RefreshToken: "rt-0123456789abcdef0123456789abcdef",
		TokenType:    "Bearer",
		Expiry:       time.Now().Add(time.Hour).UTC(),
		Subject:      "88888",
		Extra:        map[string]string{"status": "1"},
	}
}

func reportTokens(b *testing.B, tokens int) {
	b.ReportMetric(float64(tokens)/b.Elapsed().Seconds(), "tokens/s")
}

func BenchmarkSave(b *testing.B) {
	benchEach(b, func(b *testing.B, s benchStore, _ func(*testing.B, int) []string) {
		ctx := context.Background()
		tok := benchToken()
		var v int64
		b.ReportAllocs()
		for b.Loop() {
			var err error
			if v, err = s.Save(ctx, "youzan/app/88888", tok, v); err != nil {
				b.Fatal(err)
			}
		}
		reportTokens(b, b.N)
	})
}

func BenchmarkLoad(b *testing.B) {
	benchEach(b, func(b *testing.B, s benchStore, _ func(*testing.B, int) []string) {
		ctx := context.Background()
		if _, err := s.Save(ctx, "youzan/app/88888", benchToken(), 0); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := s.Load(ctx, "youzan/app/88888"); err != nil {
				b.Fatal(err)
			}
		}
		reportTokens(b, b.N)
	})
}

// BenchmarkLease is a refresh's lease round trip: TryLockLoad of a free lease (the token read
// with it), then its Unlock.
func BenchmarkLease(b *testing.B) {
	benchEach(b, func(b *testing.B, s benchStore, _ func(*testing.B, int) []string) {
		ctx := context.Background()
		if _, err := s.Save(ctx, "youzan/app/88888", benchToken(), 0); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			ll, err := s.TryLockLoad(ctx, "youzan/app/88888", 10*time.Second)
			if err != nil || ll.Unlock == nil || ll.LoadErr != nil {
				b.Fatalf("TryLockLoad: lease %v, load %v, error %v", ll.Unlock != nil, ll.LoadErr, err)
			}
			ll.Unlock()
		}
	})
}

// coldStart is how many tokens BenchmarkLoadMany loads: a fleet's cold start.
const coldStart = 100_000

func BenchmarkLoadMany(b *testing.B) {
	benchEach(b, func(b *testing.B, s benchStore, fill func(*testing.B, int) []string) {
		ctx := context.Background()
		keys := fill(b, coldStart)
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			got, err := s.LoadMany(ctx, keys)
			if err != nil {
				b.Fatal(err)
			}
			if len(got) != len(keys) {
				b.Fatalf("loaded %d of %d", len(got), len(keys))
			}
		}
		reportTokens(b, b.N*len(keys))
	})
}

// fleetToken is a Youzan-sized token, as a fleet stores them (redisstore's benchmarks use the same).
func fleetToken(i int, exp time.Time) *shoptoken.Token {
	return &shoptoken.Token{
		AccessToken: fmt.Sprintf("%032x", 7919*i+1), RefreshToken: fmt.Sprintf("%032x", 104729*i+1),
		TokenType: "Bearer", Expiry: exp, IssuedAt: exp.Add(-7 * 24 * time.Hour), Subject: strconv.Itoa(40000000 + i),
	}
}

func fleetKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = "youzan/client-1/" + strconv.Itoa(40000000+i)
	}
	return keys
}

// fill writes n tokens at version 1 with multi-row INSERTs of 1000, as a migration from another
// store would.
func (e *testEnv) fill(b *testing.B, n int) []string {
	b.Helper()
	ctx := context.Background()
	keys := fleetKeys(n)
	exp := time.Now().Add(7 * 24 * time.Hour).Truncate(time.Second).UTC()
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
			data, err := encodeToken(fleetToken(i, exp))
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

// openRedis returns a redisstore.Store on the test Redis (REDIS_ADDR, or 127.0.0.1:6379) with a
// prefix of its own, whose keys are deleted at cleanup; without Redis the benchmark is skipped.
func openRedis(b *testing.B) (benchStore, func(*testing.B, int) []string) {
	addr := "127.0.0.1:6379"
	if a := envOr("REDIS_ADDR", ""); a != "" {
		addr = a
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 32})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		_ = rdb.Close()
		b.Skipf("no Redis at %s: %v", addr, err)
	}
	prefix := "sqlstore-bench:" + randomHex(5) + ":"
	s := redisstore.New(rdb, redisstore.WithPrefix(prefix))
	b.Cleanup(func() {
		_ = s.Close()
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			if keys = append(keys, iter.Val()); len(keys) == 1000 {
				rdb.Unlink(ctx, keys...)
				keys = keys[:0]
			}
		}
		if len(keys) > 0 {
			rdb.Unlink(ctx, keys...)
		}
		_ = rdb.Close()
	})
	fill := func(b *testing.B, n int) []string {
		keys := fleetKeys(n)
		exp := time.Now().Add(7 * 24 * time.Hour).Truncate(time.Second).UTC()
		var wg sync.WaitGroup
		for w := range 32 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < n; i += 32 {
					if _, err := s.Save(context.Background(), keys[i], fleetToken(i, exp), 0); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		return keys
	}
	return s, fill
}
