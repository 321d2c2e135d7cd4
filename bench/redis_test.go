package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/redisstore"
	"github.com/shoptoken/shoptoken/shops"
)

// The benchmarks in this file need a real Redis: REDIS_ADDR, or 127.0.0.1:6379. Without one they
// are skipped, or fail when SHOPTOKEN_REQUIRE_REDIS=1. Each uses its own random key prefix and
// deletes its keys afterwards.

// redisCounter counts the commands and pipelines a client sends: each is one round trip.
type redisCounter struct{ n atomic.Int64 }

func (h *redisCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *redisCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}

func (h *redisCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmds)
	}
}

// benchRedis is one benchmark's share of Redis: a client with a round-trip counter and a random
// prefix whose keys are deleted at cleanup.
type benchRedis struct {
	rdb    *redis.Client
	calls  *redisCounter
	prefix string
}

func newBenchRedis(b *testing.B) *benchRedis {
	b.Helper()
	addr := os.Getenv("REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 128})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		_ = rdb.Close()
		msg := fmt.Sprintf("bench: no Redis at %s (set REDIS_ADDR); these benchmarks need a real Redis", addr)
		if os.Getenv("SHOPTOKEN_REQUIRE_REDIS") == "1" {
			b.Fatalf("%s: %v", msg, err)
		}
		b.Skip(msg)
	}
	var r [6]byte
	_, _ = rand.Read(r[:])
	br := &benchRedis{rdb: rdb, calls: &redisCounter{}, prefix: "shoptoken-bench:" + hex.EncodeToString(r[:]) + ":"}
	rdb.AddHook(br.calls)
	b.Cleanup(func() {
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, br.prefix+"*", 1000).Iterator()
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
	return br
}

func (br *benchRedis) store(b *testing.B) *redisstore.Store {
	s := redisstore.New(br.rdb, redisstore.WithPrefix(br.prefix))
	b.Cleanup(func() { _ = s.Close() })
	return s
}

// parallel runs fn(i) for i in [0, n) on workers goroutines.
func parallel(n, workers int, fn func(i int) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					errs[w] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// notCalled is a platform that must not be reached.
type notCalled struct{ n atomic.Int64 }

func (p *notCalled) Refresh(context.Context, *shoptoken.Token, shoptoken.Reason) (*shoptoken.Token, error) {
	p.n.Add(1)
	return nil, errors.New("bench: the platform must not be called")
}

// benchKey is shop i's store key in the youzan App of these benchmarks.
func benchKey(i int) string {
	return shoptoken.Key{Platform: "youzan", App: "bench-app", Shop: kdtID(i)}.String()
}

// BenchmarkRedisColdStart: a process starts with 100 000 shops whose tokens are in Redis.
//
// "RawPipeline" is the floor: the same HMGETs in pipelines of 1000, four in flight, decoding
// nothing. "LoadMany" is redisstore's LoadMany (pipelines, decoded tokens). "AppPreload" is the
// whole cold start of a youzan App: Preload (LoadMany, a Cache per shop from its loaded token,
// the due times written in batches), then every shop's first Token from 64 goroutines, which
// makes no round trip of its own; the due index then holds every shop. Reported: tokens/s (goal
// ≥ 250 000, ≥ 0.9× the raw pipelines), Redis round trips per token, shops in the due index.
func BenchmarkRedisColdStart(b *testing.B) {
	const total = 100_000
	ctx := context.Background()
	br := newBenchRedis(b)
	store := br.store(b)
	keys := make([]string, total)
	names := make([]string, total)
	now := time.Now().Truncate(time.Second)
	err := parallel(total, 64, func(i int) error {
		keys[i], names[i] = benchKey(i), kdtID(i)
		_, err := store.Save(ctx, keys[i], youzanToken(i, now), 0)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	rate := func(b *testing.B, before int64) {
		b.ReportMetric(float64(total*b.N)/b.Elapsed().Seconds(), "tokens/s")
		b.ReportMetric(float64(br.calls.n.Load()-before)/float64(total*b.N), "redis-calls/token")
	}

	b.Run("RawPipeline", func(b *testing.B) {
		before := br.calls.n.Load()
		for b.Loop() {
			if err := rawLoad(ctx, br, keys); err != nil {
				b.Fatal(err)
			}
		}
		rate(b, before)
	})
	b.Run("LoadMany", func(b *testing.B) {
		before := br.calls.n.Load()
		for b.Loop() {
			loaded, err := store.LoadMany(ctx, keys)
			if err != nil || len(loaded) != total {
				b.Fatalf("loaded %d of %d: %v", len(loaded), total, err)
			}
		}
		rate(b, before)
	})
	b.Run("AppPreload", func(b *testing.B) {
		before := br.calls.n.Load()
		var indexed int
		for b.Loop() {
			a := newYouzanApp(b, shops.WithStore(store))
			n, err := a.Preload(ctx, names)
			if err != nil || n != total {
				b.Fatalf("preloaded %d of %d: %v", n, total, err)
			}
			err = parallel(total, 64, func(i int) error {
				_, err := a.Token(ctx, names[i])
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if err := a.Shutdown(ctx); err != nil {
				b.Fatal(err)
			}
			due, err := store.Due(ctx, a.Namespace(), now.Add(30*24*time.Hour), 0)
			if err != nil {
				b.Fatal(err)
			}
			indexed = len(due)
			b.StartTimer()
		}
		rate(b, before)
		b.ReportMetric(float64(indexed), "shops-indexed")
		if indexed != total {
			b.Fatalf("%d of %d total in the due index", indexed, total)
		}
	})
}

// rawLoad sends the HMGETs LoadMany sends, the same way, and decodes nothing: the floor.
func rawLoad(ctx context.Context, br *benchRedis, keys []string) error {
	const batch, workers = 1000, 4
	return parallel((len(keys)+batch-1)/batch, workers, func(n int) error {
		pipe := br.rdb.Pipeline()
		for _, k := range keys[n*batch : min((n+1)*batch, len(keys))] {
			pipe.HMGet(ctx, br.prefix+"{"+k+"}:tok", "v", "tok")
		}
		_, err := pipe.Exec(ctx)
		return err
	})
}

// BenchmarkRedisColdStartFetching: a cold start of a fleet with no stored token: every shop's
// first Token fetches one (a fake platform) and saves it; the due index must then hold every
// shop, none dropped. Reported: shops in the due index (goal: all of them).
func BenchmarkRedisColdStartFetching(b *testing.B) {
	const n = 100_000
	ctx := context.Background()
	br := newBenchRedis(b)
	store := br.store(b)
	var calls atomic.Int64
	pl := shops.Platform{Name: "fake", App: "bench",
		Refresher: func(shop string) (shoptoken.Refresher, error) {
			return shoptoken.RefresherFunc(func(context.Context, *shoptoken.Token, shoptoken.Reason) (*shoptoken.Token, error) {
				calls.Add(1)
				now := time.Now()
				return &shoptoken.Token{AccessToken: "at-" + shop, IssuedAt: now, Expiry: now.Add(7 * 24 * time.Hour)}, nil
			}), nil
		},
		Options: []shoptoken.Option{shoptoken.WithEarlyRefresh(24 * time.Hour), shoptoken.WithMinInterval(0)}}
	for b.Loop() {
		a, err := shops.New(pl, shops.WithStore(store))
		if err != nil {
			b.Fatal(err)
		}
		err = parallel(n, 64, func(i int) error {
			_, err := a.Token(ctx, kdtID(i))
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := a.Shutdown(ctx); err != nil {
			b.Fatal(err)
		}
		due, err := store.Due(ctx, a.Namespace(), time.Now().Add(30*24*time.Hour), 0)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(len(due)), "shops-indexed")
		if len(due) != n {
			b.Fatalf("%d of %d shops in the due index", len(due), n)
		}
		// The next round starts from nothing again.
		for i := range n {
			_ = store.Delete(ctx, shoptoken.Key{Platform: "fake", App: "bench", Shop: kdtID(i)}.String())
		}
		b.StartTimer()
	}
}

// BenchmarkRedisWarmRead: Token on a warm Cache whose Store is redisstore makes no Redis round
// trip. Run with -benchtime=1000000x for the 10⁶ reads of the goal. Reported: redis-calls/op
// (commands and pipelines seen by a go-redis hook; goal 0).
func BenchmarkRedisWarmRead(b *testing.B) {
	ctx := context.Background()
	br := newBenchRedis(b)
	platform := shoptoken.RefresherFunc(func(context.Context, *shoptoken.Token, shoptoken.Reason) (*shoptoken.Token, error) {
		return &shoptoken.Token{AccessToken: "warm", Expiry: time.Now().Add(time.Hour)}, nil
	})
	c, err := shoptoken.NewCache(platform, shoptoken.WithStore(br.store(b)),
		shoptoken.WithKey(shoptoken.Key{Platform: "youzan", App: "bench-app", Shop: "88888"}))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	if _, err := c.Token(ctx); err != nil { // cold: Load, lease, refresh, Save
		b.Fatal(err)
	}
	before := br.calls.n.Load()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Token(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(br.calls.n.Load()-before)/float64(b.N), "redis-calls/op")
}

// BenchmarkRedisKeeperSweep: the cost of one App.Sweep over a redisstore due index holding
// `total` scheduled shops of which `due` are due, with a fake refresher and WithRate(1e9) (no
// pacing), by a process that holds nothing in memory: every due shop's token is loaded from
// Redis, refreshed once (lease, platform call, save) and given a new due time (written in one
// batch); the index query is one ZRANGEBYSCORE. Reported: ns per due shop, which should not grow
// with the number of shops.
func BenchmarkRedisKeeperSweep(b *testing.B) {
	ctx := context.Background()
	for _, total := range []int{1_000, 100_000} {
		br := newBenchRedis(b)
		store := br.store(b)
		ns := shoptoken.Key{Platform: "fake", App: "bench"}.Namespace()
		key := func(i int) string { return shoptoken.Key{Platform: "fake", App: "bench", Shop: kdtID(i)}.String() }
		future := time.Now().Add(24 * time.Hour)
		// Not due: scheduled a day ahead. The due ones are moved into the past before each sweep.
		dues := make([]shoptoken.Due, total)
		for i := range dues {
			dues[i] = shoptoken.Due{Key: key(i), At: future}
		}
		if err := store.Schedule(ctx, ns, dues...); err != nil {
			b.Fatal(err)
		}
		for _, due := range []int{10, 100, 1000} {
			b.Run(fmt.Sprintf("total=%d/due=%d", total, due), func(b *testing.B) {
				var refreshes atomic.Int64
				// A token 23.5 h into its 24 h life, refreshed 1 h ahead: due.
				now := time.Now()
				old := &shoptoken.Token{AccessToken: "old", IssuedAt: now.Add(-23*time.Hour - 30*time.Minute), Expiry: now.Add(30 * time.Minute)}
				pl := shops.Platform{Name: "fake", App: "bench",
					Refresher: func(string) (shoptoken.Refresher, error) {
						return shoptoken.RefresherFunc(func(context.Context, *shoptoken.Token, shoptoken.Reason) (*shoptoken.Token, error) {
							n := refreshes.Add(1)
							now := time.Now()
							return &shoptoken.Token{AccessToken: fmt.Sprint("new-", n), IssuedAt: now, Expiry: now.Add(24 * time.Hour)}, nil
						}), nil
					},
					Options: []shoptoken.Option{shoptoken.WithEarlyRefresh(time.Hour), shoptoken.WithMinInterval(0)}}
				for b.Loop() {
					b.StopTimer()
					past := time.Now().Add(-time.Minute)
					moved := make([]shoptoken.Due, due)
					for j := range moved {
						moved[j] = shoptoken.Due{Key: key(j * (total / due)), At: past}
					}
					if err := store.Schedule(ctx, ns, moved...); err != nil {
						b.Fatal(err)
					}
					for j := range due {
						k := key(j * (total / due))
						if err := store.Delete(ctx, k); err != nil {
							b.Fatal(err)
						}
						if _, err := store.Save(ctx, k, old, 0); err != nil {
							b.Fatal(err)
						}
					}
					a, err := shops.New(pl, shops.WithStore(store), shops.WithRate(1e9), shops.WithBatch(10_000))
					if err != nil {
						b.Fatal(err)
					}
					before := refreshes.Load()
					b.StartTimer()
					res, err := a.Sweep(ctx)
					b.StopTimer()
					// Refreshed+NotDue, not Refreshed alone: a Cache's timer may refresh its due token
					// before the sweep looks at it, and the sweep then counts it NotDue.
					if n := refreshes.Load() - before; err != nil || res.Due != due || res.Refreshed+res.NotDue != due || n != int64(due) {
						b.Fatalf("sweep: %+v, %v; %d platform calls", res, err, n)
					}
					a.Close()
					b.StartTimer()
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*due), "ns/due-key")
			})
		}
	}
}
