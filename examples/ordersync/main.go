package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/redisstore"
	"github.com/shoptoken/shoptoken/shops"
	"github.com/shoptoken/shoptoken/shoptokentest"
	"github.com/shoptoken/shoptoken/veapi"
	"github.com/shoptoken/shoptoken/youzan"
)

const (
	youzanShops = 200
	veapiShops  = 120
	workers     = 16
	rounds      = 6 // each worker syncs every shop of its share this many times
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "ordersync:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx := context.Background()
	store, where, cleanup := openStore(ctx)
	defer cleanup()
	fmt.Println("store:", where)

	// The platforms. Tokens live an hour on both; the job runs for a few seconds.
	yz := shoptokentest.NewYouzan(shoptokentest.WithGrants(kdtIDs()...),
		shoptokentest.WithCredentials("isv-client", "isv-secret-0123456789"))
	defer yz.Close()
	va := shoptokentest.NewVeapi()
	defer va.Close()

	events := newCounters()
	common := []shops.Option{
		shops.WithStore(store),
		shops.WithEvents(events.count),
		shops.WithSweepEvery(200 * time.Millisecond),
		shops.WithRate(1000),
		shops.WithOnReauthorize(func(k shoptoken.Key, err error) {
			events.add(k.Platform+"/reauthorize", 1)
		}),
	}
	yzApp, err := youzan.NewApp(youzan.Config{ClientID: "isv-client", ClientSecret: "isv-secret-0123456789", BaseURL: yz.URL}, common...)
	if err != nil {
		return err
	}
	// veapi spaces the rotations of one shop's chain by 15 s (every rotation is a chance to lose
	// it); the demo, which expires every token a moment after the first rotation, allows 1 s.
	vaApp, err := veapi.NewApp(veapi.Config{VEKey: "vekey", App: "isv-account", BaseURL: va.URL},
		append(common, shops.WithCacheOptions(shoptoken.WithMinInterval(time.Second)))...)
	if err != nil {
		return err
	}
	defer shutdown(yzApp, vaApp)

	// The merchants authorized the apps earlier: veapi gave a refresh token per shop, which
	// starts each shop's chain (Youzan's silent authorization needs nothing stored).
	for _, shop := range veapiShopIDs() {
		if err := vaApp.Set(ctx, shop, &shoptoken.Token{RefreshToken: va.NewGrant(shop), Subject: shop}); err != nil {
			return err
		}
	}

	// Each App's Keeper keeps idle grants alive; neither ever sees the other's shops.
	kctx, stopKeepers := context.WithCancel(ctx)
	var keepers sync.WaitGroup
	for _, a := range []interface{ Run(context.Context) error }{yzApp, vaApp} {
		keepers.Add(1)
		go func() {
			defer keepers.Done()
			_ = a.Run(kctx)
		}()
	}

	// The sync job: workers take shops in turn and pull their orders.
	jobs := shopJobs()
	var calls, failed atomic.Int64
	syncShop := func(j job) error {
		calls.Add(1)
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		switch j.platform {
		case "youzan":
			var page struct{}
			return yzApp.Call(cctx, j.shop, "youzan.trades.sold.get", "4.0.2", map[string]any{"page_no": 1}, &page)
		default:
			req, err := http.NewRequestWithContext(cctx, http.MethodGet, va.URL+"/vip/api?method=getOrderList", nil)
			if err != nil {
				return err
			}
			resp, err := vaApp.Client(j.shop).Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				return err
			}
			if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`"error":"0"`)) {
				return fmt.Errorf("veapi answered %d: %.80s", resp.StatusCode, body)
			}
			return nil
		}
	}
	start := time.Now()
	var firstErr atomic.Pointer[error]
	for r := range rounds {
		if r == rounds/2 {
			// Midway, both platforms expire every token at once.
			yz.ExpireNow()
			va.ExpireNow()
		}
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < len(jobs); i += workers {
					if err := syncShop(jobs[i]); err != nil {
						failed.Add(1)
						firstErr.CompareAndSwap(nil, &err)
					}
				}
			}()
		}
		wg.Wait()
	}
	took := time.Since(start)
	stopKeepers()
	keepers.Wait()

	yzStats, vaStats := yz.Stats(), va.Stats()
	fmt.Printf("synced %d shops (%d youzan, %d veapi) × %d rounds with %d workers in %v\n",
		len(jobs), youzanShops, veapiShops, rounds, workers, took.Round(time.Millisecond))
	fmt.Printf("order calls: %d, failed: %d\n", calls.Load(), failed.Load())
	fmt.Printf("youzan: %d tokens issued for %d shops (one each, then one each after the expiry)\n", yzStats.Issued, youzanShops)
	fmt.Printf("veapi:  %d rotations for %d shops, dead refresh tokens used: %d\n", vaStats.Issued, veapiShops, vaStats.DeadRefreshUsed)
	for _, a := range []*shops.App{yzApp.App, vaApp.App} {
		due, err := dueCount(ctx, store, a)
		if err != nil {
			return err
		}
		fmt.Printf("due index %s: %d shops\n", a.Namespace(), due)
	}
	fmt.Println("events (platform/kind):")
	events.print()
	fmt.Println()
	if p := firstErr.Load(); p != nil {
		return fmt.Errorf("%d order calls failed, the first: %w", failed.Load(), *p)
	}
	if yzStats.Issued != 2*youzanShops || vaStats.DeadRefreshUsed != 0 {
		return errors.New("the platforms saw more token calls than one per shop and expiry")
	}
	if yzStats.Errors+vaStats.Errors != 0 {
		// A strict emulator refuses a shop it does not know: a token call for the other
		// platform's shop would show here.
		return fmt.Errorf("token endpoints refused %d youzan and %d veapi requests", yzStats.Errors, vaStats.Errors)
	}
	fmt.Println("ok: every shop synced, one token call per shop and expiry, no platform saw another's shop")
	return nil
}

type job struct{ platform, shop string }

func kdtIDs() []string {
	ids := make([]string, youzanShops)
	for i := range ids {
		ids[i] = strconv.Itoa(40000000 + i)
	}
	return ids
}

func veapiShopIDs() []string {
	ids := make([]string, veapiShops)
	for i := range ids {
		ids[i] = "vip-" + strconv.Itoa(1000+i)
	}
	return ids
}

func shopJobs() []job {
	var jobs []job
	for _, s := range kdtIDs() {
		jobs = append(jobs, job{"youzan", s})
	}
	for _, s := range veapiShopIDs() {
		jobs = append(jobs, job{"veapi", s})
	}
	return jobs
}

// openStore returns a redisstore on the local Redis under a fresh prefix, or the in-memory store.
func openStore(ctx context.Context) (shoptoken.Store, string, func()) {
	addr := os.Getenv("REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	redis.SetLogger(quiet{}) // a missing Redis is expected: say so once, below
	rdb := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 300 * time.Millisecond, MaxRetries: -1})
	pctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := rdb.Ping(pctx).Err(); err != nil {
		_ = rdb.Close()
		return shoptoken.NewMemoryStore(), "in memory (no Redis at " + addr + ")", func() {}
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	prefix := "ordersync-" + hex.EncodeToString(b[:]) + ":"
	st := redisstore.New(rdb, redisstore.WithPrefix(prefix))
	return st, "Redis at " + addr + ", prefix " + prefix, func() {
		_ = st.Close()
		iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
		_ = rdb.Close()
	}
}

func dueCount(ctx context.Context, store shoptoken.Store, a *shops.App) (int, error) {
	idx, ok := store.(shoptoken.DueIndex)
	if !ok {
		return 0, nil
	}
	keys, err := idx.Due(ctx, a.Namespace(), time.Now().Add(365*24*time.Hour), 0)
	return len(keys), err
}

type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

// counters turns the engine's events into counters labelled by platform and kind (the shop is
// never a label: there may be a million).
type counters struct {
	mu sync.Mutex
	m  map[string]int
}

func newCounters() *counters { return &counters{m: map[string]int{}} }

func (c *counters) count(e shoptoken.Event) { c.add(e.Key.Platform+"/"+e.Kind.String(), 1) }

func (c *counters) add(label string, n int) {
	c.mu.Lock()
	c.m[label] += n
	c.mu.Unlock()
}

func (c *counters) print() {
	c.mu.Lock()
	defer c.mu.Unlock()
	labels := make([]string, 0, len(c.m))
	for l := range c.m {
		labels = append(labels, l)
	}
	sort.Strings(labels)
	for _, l := range labels {
		fmt.Printf("  %-28s %d\n", l, c.m[l])
	}
}

// shutdown stops each app as a process about to exit should: it waits, up to 10 s, for refreshes
// under way and their saves, and writes the due times not yet written.
func shutdown(apps ...interface{ Shutdown(context.Context) error }) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, a := range apps {
		if err := a.Shutdown(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "shutdown:", err)
		}
	}
}
