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

func shopKey(i int) string { return fmt.Sprintf("youzan:%08d", 40000000+i) }

// shopToken is a Youzan-sized token: 32-character access and refresh tokens, 7-day expiry.
func shopToken(i int, exp time.Time) *shoptoken.Token {
	return &shoptoken.Token{
		AccessToken: fmt.Sprintf("%032x", 7919*i+1), RefreshToken: fmt.Sprintf("%032x", 104729*i+1),
		TokenType: "Bearer", Expiry: exp, IssuedAt: exp.Add(-7 * 24 * time.Hour), Subject: fmt.Sprint(40000000 + i),
	}
}

// notCalled is a platform that must not be reached.
type notCalled struct{ n atomic.Int64 }

func (p *notCalled) Refresh(context.Context, *shoptoken.Token, shoptoken.Reason) (*shoptoken.Token, error) {
	p.n.Add(1)
	return nil, errors.New("bench: the platform must not be called")
}

// BenchmarkRedisColdStart: a process starts with 100 000 shops whose tokens are in Redis and
// makes every shop's token ready in a shoptoken.Registry of Caches on a redisstore Store.
//
// "LoadMany" loads them with redisstore's pipelined LoadMany. "Registry" is the whole cold start:
// LoadMany, then a Registry whose Caches are built with WithStore(store, key) and
// WithStoredToken(the loaded token, its version), then the first Token of every shop from 64
// goroutines. WithStoredToken makes the loaded token the Cache's as if the Cache had read it
// itself, so the first Token makes no round trip of its own. Reported: tokens/s (goal ≥ 50 000)
// and Redis round trips per token (commands and pipelines, counted with a go-redis hook).
func BenchmarkRedisColdStart(b *testing.B) {
	const shops = 100_000
	ctx := context.Background()
	br := newBenchRedis(b)
	store := br.store(b)
	keys := make([]string, shops)
	exp := time.Now().Add(7 * 24 * time.Hour).Truncate(time.Second)
	err := parallel(shops, 64, func(i int) error {
		keys[i] = shopKey(i)
		_, err := store.Save(ctx, keys[i], shopToken(i, exp), 0)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}

	b.Run("LoadMany", func(b *testing.B) {
		before := br.calls.n.Load()
		for i := 0; i < b.N; i++ {
			loaded, err := store.LoadMany(ctx, keys)
			if err != nil || len(loaded) != shops {
				b.Fatalf("loaded %d of %d: %v", len(loaded), shops, err)
			}
		}
		b.ReportMetric(float64(shops*b.N)/b.Elapsed().Seconds(), "tokens/s")
		b.ReportMetric(float64(br.calls.n.Load()-before)/float64(shops*b.N), "redis-calls/token")
	})

	b.Run("Registry", func(b *testing.B) {
		platform := &notCalled{}
		before := br.calls.n.Load()
		for i := 0; i < b.N; i++ {
			loaded, err := store.LoadMany(ctx, keys)
			if err != nil || len(loaded) != shops {
				b.Fatalf("loaded %d of %d: %v", len(loaded), shops, err)
			}
			reg := shoptoken.NewRegistry(func(key string, opts ...shoptoken.Option) (*shoptoken.Cache, error) {
				return shoptoken.NewCache(platform, append([]shoptoken.Option{
					shoptoken.WithStore(store, key), shoptoken.WithStoredToken(loaded[key].Token, loaded[key].Version)}, opts...)...)
			})
			err = parallel(shops, 64, func(i int) error {
				tok, err := reg.Token(ctx, keys[i])
				if err == nil && tok.AccessToken != loaded[keys[i]].Token.AccessToken {
					err = fmt.Errorf("shop %s: got another token", keys[i])
				}
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			reg.Close()
			b.StartTimer()
		}
		if n := platform.n.Load(); n != 0 {
			b.Fatalf("%d platform calls", n)
		}
		b.ReportMetric(float64(shops*b.N)/b.Elapsed().Seconds(), "tokens/s")
		b.ReportMetric(float64(br.calls.n.Load()-before)/float64(shops*b.N), "redis-calls/token")
	})
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
	c, err := shoptoken.NewCache(platform, shoptoken.WithStore(br.store(b), "youzan:88888"))
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

// BenchmarkRedisKeeperSweep: the cost of one Keeper.Sweep over a redisstore due index holding
// `total` scheduled shops of which `due` are due, with a fake refresher and WithRate(1e9) (no
// pacing). Every due shop gets a new Cache (no Store: the Keeper's own cost, not the Store's) in a
// fresh Registry, one platform refresh and a reschedule (one ZADD); the index query is one
// ZRANGEBYSCORE. Reported: ns per due key, which should not grow with
// the total number of shops.
func BenchmarkRedisKeeperSweep(b *testing.B) {
	ctx := context.Background()
	for _, total := range []int{1_000, 100_000} {
		br := newBenchRedis(b)
		store := br.store(b)
		future := time.Now().Add(24 * time.Hour)
		// Not due: scheduled a day ahead. The due ones are moved into the past before each sweep.
		if err := parallel(total, 64, func(i int) error { return store.Schedule(ctx, shopKey(i), future) }); err != nil {
			b.Fatal(err)
		}
		for _, due := range []int{10, 100, 1000} {
			b.Run(fmt.Sprintf("total=%d/due=%d", total, due), func(b *testing.B) {
				var refreshes atomic.Int64
				platform := shoptoken.RefresherFunc(func(context.Context, *shoptoken.Token, shoptoken.Reason) (*shoptoken.Token, error) {
					refreshes.Add(1)
					now := time.Now()
					return &shoptoken.Token{AccessToken: fmt.Sprint("new-", refreshes.Load()), IssuedAt: now, Expiry: now.Add(24 * time.Hour)}, nil
				})
				// A token 23.5 h into its 24 h life, refreshed 1 h ahead: due.
				now := time.Now()
				old := &shoptoken.Token{AccessToken: "old", IssuedAt: now.Add(-23*time.Hour - 30*time.Minute), Expiry: now.Add(30 * time.Minute)}
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					past := time.Now().Add(-time.Minute)
					for j := range due {
						if err := store.Schedule(ctx, shopKey(j*(total/due)), past); err != nil {
							b.Fatal(err)
						}
					}
					reg := shoptoken.NewRegistry(func(key string, opts ...shoptoken.Option) (*shoptoken.Cache, error) {
						return shoptoken.NewCache(platform, append([]shoptoken.Option{shoptoken.WithToken(old),
							shoptoken.WithEarlyRefresh(time.Hour), shoptoken.WithName(key)}, opts...)...)
					})
					k := shoptoken.NewKeeper(reg, store, shoptoken.WithRate(1e9), shoptoken.WithBatch(10_000))
					before := refreshes.Load()
					b.StartTimer()
					res, err := k.Sweep(ctx)
					b.StopTimer()
					// Refreshed+NotDue, not Refreshed alone: a new Cache's timer may refresh its due
					// token before the sweep looks at it, and the sweep then counts it NotDue.
					if n := refreshes.Load() - before; err != nil || res.Due != due || res.Refreshed+res.NotDue != due || n != int64(due) {
						b.Fatalf("sweep: %+v, %v; %d platform calls", res, err, n)
					}
					reg.Close()
					b.StartTimer()
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*due), "ns/due-key")
			})
		}
	}
}
