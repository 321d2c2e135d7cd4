package youzan_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/shoptokentest"
	"github.com/shoptoken/shoptoken/youzan"
)

// heapPerShop returns the heap an App holds per shop with n shops, each with a Cache holding a
// Youzan-sized token (32-character access and refresh tokens, the kdt_id as Subject, 7-day
// expiry, the emulator's 52 scopes split per shop as decoding an answer does) whose planned
// refresh is armed: the live heap after a GC, before and after, divided by n.
func heapPerShop(tb testing.TB, n int) float64 {
	tb.Helper()
	ctx := context.Background()
	exp := time.Now().Add(youzan.AccessTokenLifetime)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	app, err := youzan.NewApp(youzan.Config{ClientID: "id", ClientSecret: secretClient})
	if err != nil {
		tb.Fatal(err)
	}
	for i := range n {
		shop := fmt.Sprint(40000000 + i)
		tok := &shoptoken.Token{
			AccessToken:  fmt.Sprintf("%032x", i*7919+1),
			RefreshToken: fmt.Sprintf("%032x", i*104729+1),
			IssuedAt:     time.Now(),
			Expiry:       exp,
			Subject:      shop,
			Scope:        strings.Fields(shoptokentest.YouzanScope),
		}
		if err := app.Set(ctx, shop, tok); err != nil {
			tb.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if app.Len() != n {
		tb.Fatalf("the App holds %d Caches, want %d", app.Len(), n)
	}
	runtime.KeepAlive(app)
	app.Close()
	return float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(n)
}

// memoryShopsEnv, when set, makes TestApp_memoryPerShop measure that many shops in this process
// and print the result: the parent test runs it in a fresh process.
const memoryShopsEnv = "YOUZAN_MEMORY_SHOPS"

// TestApp_memoryPerShop: a shop of a youzan App costs at most 1 KiB of heap with 100 000 shops
// (20 000 under the race detector):
// no HTTP client, Config copy or resty client per shop, only a two-word Refresher and the shop's
// Cache and token. It measures in a fresh process (this test binary, run again): in one that has
// run other tests, Caches closed by them are still being released (their stopped timers are
// dropped lazily) and the difference of two heap readings means nothing.
func TestApp_memoryPerShop(t *testing.T) {
	if v := os.Getenv(memoryShopsEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("bytes/shop %.0f\n", heapPerShop(t, n))
		return
	}
	if testing.Short() {
		t.Skip("measures 100 000 shops in another process")
	}
	n := 100_000
	if raceEnabled {
		n = 20_000 // the figure is flat from 10 000 shops on; the race detector makes each one slow
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestApp_memoryPerShop$", "-test.count=1")
	cmd.Env = append(os.Environ(), memoryShopsEnv+"="+strconv.Itoa(n))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	var per float64
	if _, err := fmt.Sscanf(string(out), "bytes/shop %f", &per); err != nil {
		t.Fatalf("no measurement in %q: %v", out, err)
	}
	t.Logf("%.0f bytes per shop with %d shops", per, n)
	if per <= 0 || per > 1024 {
		t.Errorf("%.0f bytes per shop, want at most 1024", per)
	}
}

// BenchmarkApp_memoryPerShop reports the heap per shop of a youzan App with 100 000 shops. Only
// the first measurement of a process is clean (see TestApp_memoryPerShop): run it alone, with
// -benchtime=1x.
func BenchmarkApp_memoryPerShop(b *testing.B) {
	for b.Loop() {
		b.ReportMetric(heapPerShop(b, 100_000), "bytes/shop")
	}
}
