package shops_test

import (
	"context"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/shops"
)

// BenchmarkApp_Token: a warm Token through the App's lookup, against the floor of a Cache already
// held, over many shops in parallel.
func BenchmarkApp_Token(b *testing.B) {
	for _, n := range []int{100_000} {
		p := newPlatform("youzan", time.Now)
		a, err := shops.New(p.Platform("app"))
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		names := make([]string, n)
		caches := make([]*shoptoken.Cache, n)
		for i := range names {
			names[i] = strconv.Itoa(40000000 + i)
			if _, err := a.Token(ctx, names[i]); err != nil {
				b.Fatal(err)
			}
			caches[i], _ = a.Cache(names[i])
		}
		b.Run("app/"+strconv.Itoa(n), func(b *testing.B) {
			b.ReportAllocs()
			var seq atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				i := int(seq.Add(7919)) % n
				for pb.Next() {
					i += 7919
					if i >= n {
						i -= n
					}
					if _, err := a.Token(ctx, names[i]); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
		b.Run("floor/"+strconv.Itoa(n), func(b *testing.B) {
			b.ReportAllocs()
			var seq atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				i := int(seq.Add(7919)) % n
				for pb.Next() {
					i += 7919
					if i >= n {
						i -= n
					}
					if _, err := caches[i].Token(ctx); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
		a.Close()
	}
}

// TestApp_memoryPerShop reports the heap per shop of an App with warm tokens (a guide; the goal
// is asserted in bench/ with a real provider).
func TestApp_memoryPerShop(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates a lot")
	}
	const n = 50_000
	p := newPlatform("youzan", time.Now)
	a, err := shops.New(p.Platform("app"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx := context.Background()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range n {
		if _, err := a.Token(ctx, strconv.Itoa(40000000+i)); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	t.Logf("%d B per shop", (after.HeapAlloc-before.HeapAlloc)/n)
}
