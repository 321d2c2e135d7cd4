package redisstore

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/storebench"
	"github.com/shoptoken/shoptoken/internal/tokenjson"
)

// The benchmarks every store runs are storebench's; sqlstore's run the same on PostgreSQL and
// MariaDB:
//
//	go test -run '^$' -bench . ./redisstore ./sqlstore

func BenchmarkLoad(b *testing.B) { storebench.Load(b, newEnv(b).store()) }

func BenchmarkSave(b *testing.B) { storebench.Save(b, newEnv(b).store()) }

func BenchmarkLease(b *testing.B) { storebench.Lease(b, newEnv(b).store()) }

// fleet saves n tokens through Save's script and returns their keys.
func fleet(b *testing.B, s *Store, n int) []string {
	b.Helper()
	ctx := context.Background()
	keys := storebench.FleetKeys(n)
	exp := storebench.FleetExpiry()
	for lo := 0; lo < n; lo += loadBatch {
		pipe := s.rdb.Pipeline()
		for i := lo; i < min(lo+loadBatch, n); i++ {
			data, err := s.encode(keys[i], storebench.FleetToken(i, exp)) // sealed if s seals
			if err != nil {
				b.Fatal(err)
			}
			saveScript.Run(ctx, pipe, []string{s.tokKey(keys[i])}, 0, data, s.channel(keys[i]))
		}
		if _, err := pipe.Exec(ctx); err != nil {
			b.Fatal(err)
		}
	}
	return keys
}

// BenchmarkLoadSealed is BenchmarkLoad with the token sealed (WithSeal): the cost of sealing on
// one Load is the difference.
func BenchmarkLoadSealed(b *testing.B) {
	storebench.Load(b, newEnv(b).store(WithSeal(testKeyring(b, "b", "a"))))
}

// BenchmarkLoadManySealed is BenchmarkLoadMany with every token sealed (WithSeal).
func BenchmarkLoadManySealed(b *testing.B) {
	s := newEnv(b).store(WithSeal(testKeyring(b, "b", "a")))
	storebench.LoadMany(b, s, fleet(b, s, storebench.ColdStart))
}

// BenchmarkLoadManySealedVsPlain loads 100 000 plain and 100 000 sealed tokens in turn, so that
// both see the same load on a shared machine, and reports the sealed LoadMany's time as a
// multiple of the plain one's.
func BenchmarkLoadManySealedVsPlain(b *testing.B) {
	ctx := context.Background()
	e := newEnv(b)
	plain, sealed := e.store(WithPrefix(e.prefix+"plain:")), e.store(WithPrefix(e.prefix+"sealed:"), WithSeal(testKeyring(b, "b", "a")))
	pk, sk := fleet(b, plain, storebench.ColdStart), fleet(b, sealed, storebench.ColdStart)
	var tp, ts time.Duration
	for b.Loop() {
		start := time.Now()
		got, err := plain.LoadMany(ctx, pk)
		mid := time.Now()
		if err != nil || len(got) != len(pk) {
			b.Fatalf("plain: loaded %d of %d: %v", len(got), len(pk), err)
		}
		got, err = sealed.LoadMany(ctx, sk)
		ts += time.Since(mid)
		tp += mid.Sub(start)
		if err != nil || len(got) != len(sk) {
			b.Fatalf("sealed: loaded %d of %d: %v", len(got), len(sk), err)
		}
	}
	b.ReportMetric(ts.Seconds()/tp.Seconds(), "sealed/plain")
	b.ReportMetric(float64(b.N*len(sk))/ts.Seconds(), "sealed-tokens/s")
	b.ReportMetric(float64(b.N*len(pk))/tp.Seconds(), "plain-tokens/s")
}

// BenchmarkLoadMany loads 100 000 tokens; compare with BenchmarkRawPipeline, the same HMGETs in
// the same pipelines with nothing decoded.
func BenchmarkLoadMany(b *testing.B) {
	s := newEnv(b).store()
	storebench.LoadMany(b, s, fleet(b, s, storebench.ColdStart))
}

// BenchmarkRawPipeline is the floor under BenchmarkLoadMany: the same HMGETs of the same 100 000
// keys, loadBatch per pipeline and loadWorkers pipelines in flight, only checking that each
// reply holds two strings.
func BenchmarkRawPipeline(b *testing.B) {
	ctx := context.Background()
	s := newEnv(b).store()
	keys := fleet(b, s, storebench.ColdStart)
	b.ReportAllocs()
	for b.Loop() {
		rawLoad(ctx, b, s, keys)
	}
	storebench.ReportTokens(b, b.N*len(keys))
}

// BenchmarkLoadManyVsRaw runs LoadMany and the raw pipelines in turn on the same keys, so that
// both see the same load on a shared machine, and reports LoadMany's speed as a fraction of the
// raw pipelines' (the goal is 0.9 or more).
func BenchmarkLoadManyVsRaw(b *testing.B) {
	ctx := context.Background()
	s := newEnv(b).store()
	keys := fleet(b, s, storebench.ColdStart)
	var raw, many time.Duration
	for b.Loop() {
		start := time.Now()
		rawLoad(ctx, b, s, keys)
		mid := time.Now()
		got, err := s.LoadMany(ctx, keys)
		many += time.Since(mid)
		raw += mid.Sub(start)
		if err != nil || len(got) != len(keys) {
			b.Fatalf("loaded %d of %d: %v", len(got), len(keys), err)
		}
	}
	b.ReportMetric(raw.Seconds()/many.Seconds(), "speed-vs-raw")
	b.ReportMetric(float64(b.N*len(keys))/many.Seconds(), "tokens/s")
	b.ReportMetric(float64(b.N*len(keys))/raw.Seconds(), "raw-tokens/s")
}

// rawLoad sends LoadMany's HMGETs in LoadMany's pipelines and decodes nothing.
func rawLoad(ctx context.Context, b *testing.B, s *Store, keys []string) {
	var next, found atomic.Int64
	var wg sync.WaitGroup
	for range loadWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmds := make([]*redis.SliceCmd, 0, loadBatch)
			for {
				lo := int(next.Add(loadBatch)) - loadBatch
				if lo >= len(keys) {
					return
				}
				pipe := s.rdb.Pipeline()
				cmds = cmds[:0]
				for _, k := range keys[lo:min(lo+loadBatch, len(keys))] {
					cmds = append(cmds, pipe.HMGet(ctx, s.tokKey(k), "v", "tok"))
				}
				if _, err := pipe.Exec(ctx); err != nil {
					b.Error(err)
					return
				}
				for _, cmd := range cmds {
					vals := cmd.Val()
					if _, ok := vals[0].(string); ok {
						if _, ok := vals[1].(string); ok {
							found.Add(1)
						}
					}
				}
			}
		}()
	}
	wg.Wait()
	if int(found.Load()) != len(keys) {
		b.Fatalf("read %d of %d", found.Load(), len(keys))
	}
}

func mustJSON(tb testing.TB, tok *shoptoken.Token) []byte {
	tb.Helper()
	data, err := tokenjson.Marshal(tok)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}
