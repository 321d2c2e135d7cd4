package bench

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/shops"
	"github.com/shoptoken/shoptoken/youzan"
)

// shopCounts are the fleet sizes of the per-shop benchmarks: 10 000 and 100 000 shops, and
// 1 000 000 with SHOPTOKEN_BENCH_MILLION=1 (about 1 GiB of heap and a minute).
func shopCounts() []int {
	if os.Getenv("SHOPTOKEN_BENCH_MILLION") == "1" {
		return []int{10_000, 100_000, 1_000_000}
	}
	return []int{10_000, 100_000}
}

func kdtID(i int) string { return fmt.Sprintf("%08d", 40000000+i) }

// youzanToken is a realistic Youzan token: 32-character access and refresh tokens, the shop's
// kdt_id as subject, 7-day expiry, the seed's 52 scopes parsed per shop as decoding gives them.
func youzanToken(i int, now time.Time) *shoptoken.Token {
	return &shoptoken.Token{
		AccessToken: fmt.Sprintf("%032x", 7919*i+1), RefreshToken: fmt.Sprintf("%032x", 104729*i+1),
		IssuedAt: now, Expiry: now.Add(7 * 24 * time.Hour), Subject: kdtID(i),
		Scope: strings.Fields(youzanScope),
	}
}

// newYouzanApp is a youzan App that never reaches a platform in these benchmarks (tokens are
// installed with Set, or loaded from the store).
func newYouzanApp(b *testing.B, opts ...shops.Option) *youzan.App {
	b.Helper()
	cfg := youzan.Config{ClientID: "bench-app", ClientSecret: "bench-secret-0123456789", BaseURL: "http://127.0.0.1:9"}
	a, err := youzan.NewApp(cfg, opts...)
	if err != nil {
		b.Fatal(err)
	}
	return a
}

// BenchmarkMemoryPerShop: the heap of a youzan App per shop, each shop holding a realistic token
// with its refresh-ahead timer armed (goal ≤ 1 KiB, flat from 10 000 to 1 000 000 shops).
func BenchmarkMemoryPerShop(b *testing.B) {
	for _, n := range shopCounts() {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			ctx := context.Background()
			now := time.Now()
			for b.Loop() {
				runtime.GC()
				runtime.GC()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				a := newYouzanApp(b)
				for i := range n {
					if err := a.Set(ctx, kdtID(i), youzanToken(i, now)); err != nil {
						b.Fatal(err)
					}
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/float64(n), "bytes/shop")
				runtime.KeepAlive(a)
				a.Close()
			}
		})
	}
}

// BenchmarkAppToken: a warm Token through a youzan App's shop lookup, in parallel over the
// shops, against the floor of calling each shop's Cache already held, in the same order, and
// against a Go map of shop id to Cache under a sync.RWMutex (what one would write by hand).
func BenchmarkAppToken(b *testing.B) {
	for _, n := range shopCounts()[1:] {
		ctx := context.Background()
		a := newYouzanApp(b)
		now := time.Now()
		names := make([]string, n)
		caches := make([]*shoptoken.Cache, n)
		for i := range names {
			names[i] = kdtID(i)
			if err := a.Set(ctx, names[i], youzanToken(i, now)); err != nil {
				b.Fatal(err)
			}
			caches[i], _ = a.Cache(names[i])
		}
		walk := func(b *testing.B, get func(i int) error) {
			b.ReportAllocs()
			var seq atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				i := int(seq.Add(7919)) % n
				for pb.Next() {
					if i += 7919; i >= n {
						i -= n
					}
					if err := get(i); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		b.Run(fmt.Sprintf("app/n=%d", n), func(b *testing.B) {
			walk(b, func(i int) error { _, err := a.Token(ctx, names[i]); return err })
		})
		b.Run(fmt.Sprintf("floor/n=%d", n), func(b *testing.B) {
			walk(b, func(i int) error { _, err := caches[i].Token(ctx); return err })
		})
		// What a user would write without an App: a Go map of shop id to Cache under a read lock.
		var mu sync.RWMutex
		byShop := make(map[string]*shoptoken.Cache, n)
		for i, c := range caches {
			byShop[names[i]] = c
		}
		b.Run(fmt.Sprintf("rwmutex-map/n=%d", n), func(b *testing.B) {
			walk(b, func(i int) error {
				mu.RLock()
				c := byShop[names[i]]
				mu.RUnlock()
				_, err := c.Token(ctx)
				return err
			})
		})
		a.Close()
	}
}

// youzanScope is the scope string of the Youzan seed's example answer.
const youzanScope = "beauty_appointment beauty_cashier beauty_item beauty_member beauty_order beauty_shop beauty_staff beauty_stock buyer_bill circle coupon coupon_advanced crm_advanced cross_boarder customer extension_analysis item item_category item_hotel item_standard ka_customization level_membership logistics mei_promoter multi_store open_market open_robot pay-customs-declaration pay_qrcode points retail-scrm retail_goods retail_product retail_shop retail_stock retail_supplier retail_trade reviews salesman selffetchcode seller_refund shop storage stored_value_card tag tags trade trade-delivery trade_advanced trade_virtual user virtualticket"
