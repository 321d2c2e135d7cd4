package fleettest

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/testkit"
	"github.com/shoptoken/shoptoken/redisstore"
	"github.com/shoptoken/shoptoken/shoptokentest"
	"github.com/shoptoken/shoptoken/vvtool"
)

const envGoroutines = "FLEETTEST_GOROUTINES"

// TestFleet_VVTool_expireNow is the multi-process proof of vv-tool's destructive semantics: every
// fetch kills the token every other process holds, so a fleet must fetch exactly once per expiry.
//
// 4 child processes × 100 goroutines share one Redis (redisstore) and one vv-tool emulator served
// by this process; each goroutine calls GET /tool/members/info through vvtool.NewClient in a loop.
// The parent expires every token 20 times (emulator ExpireNow), and after each waits until every
// child has had a call succeed with a token issued after the expiry (emulator Valid on the token
// each child last used successfully). The platform must see exactly 21 requests to its token
// endpoint (Stats.TokenRequests; Stats.Issued too): 1 initial fetch + 1 per expiry. And no caller
// may ever see an error or a rejection after its Transport's single retry (children count
// failures in Redis).
func TestFleet_VVTool_expireNow(t *testing.T) {
	const (
		children   = 4
		goroutines = 100
		expiries   = 20
	)
	f := newFleet(t)
	emu := shoptokentest.NewVVTool()
	t.Cleanup(emu.Close)

	kids := make([]*testkit.Child, children)
	for i := range kids {
		kids[i] = f.startChild("vvtool", "c"+strconv.Itoa(i), emu.URL, envGoroutines+"="+strconv.Itoa(goroutines))
	}
	lastOK := func(c *testkit.Child) string {
		s, _ := f.rdb.Get(context.Background(), f.key("ok:"+c.Name)).Result()
		return s
	}
	oldestCall := func(c *testkit.Child) int64 {
		n, _ := f.rdb.Get(context.Background(), f.key("oldest:"+c.Name)).Int64()
		return n
	}
	var round int
	check := func() {
		if n, msgs := f.failures(); n > 0 {
			t.Fatalf("in round %d callers saw %d failures; stats %+v; e.g.:\n%s", round, n, emu.Stats(), strings.Join(msgs, "\n"))
		}
		for _, c := range kids {
			if c.Exited() {
				t.Fatalf("child %s exited early (%v):\n%s", c.Name, c.Err(), c.Output())
			}
		}
	}
	// awaitRecovery waits until the fleet has recovered from an expiry: first until each child's last
	// successful call used a token that is alive now (after ExpireNow no earlier token is, so each
	// child's Cache holds the new token), then until no call that began before that is still under
	// way. Such a call may have taken the old token and be waiting for its one retry; the next
	// expiry would make that retry fail for a reason that is not the SDK's (two expiries within one
	// call).
	awaitRecovery := func(what string) {
		testkit.WaitFor(t, 20*time.Second, what, func() (bool, string) {
			check()
			for _, c := range kids {
				if !emu.Valid(lastOK(c)) {
					return false, "child " + c.Name + " has not succeeded with a live token yet"
				}
			}
			return true, ""
		})
		all := time.Now().UnixNano()
		testkit.WaitFor(t, 20*time.Second, what+" (calls begun before it ending)", func() (bool, string) {
			check()
			for _, c := range kids {
				if oldestCall(c) <= all {
					return false, "child " + c.Name + " still has a call under way that began before the fleet recovered"
				}
			}
			return true, ""
		})
	}

	start := time.Now()
	awaitRecovery("the fleet's first successful calls")
	t.Logf("fleet up in %v; stats %+v", time.Since(start).Round(time.Millisecond), emu.Stats())
	var slowest time.Duration
	for round = 1; round <= expiries; round++ {
		at := time.Now()
		emu.ExpireNow()
		awaitRecovery(fmt.Sprintf("recovery from expiry %d", round))
		slowest = max(slowest, time.Since(at))
	}
	f.stopChildren(kids...)

	st := emu.Stats()
	n, msgs := f.failures()
	t.Logf("%d expiries in %v, slowest recovery %v; stats %+v", expiries, time.Since(start).Round(time.Millisecond),
		slowest.Round(time.Millisecond), st)
	assert.Zero(t, n, "failed calls, e.g.:\n%s", strings.Join(msgs, "\n"))
	assert.Equal(t, 1+expiries, st.TokenRequests, "token endpoint requests: 1 initial + 1 per expiry")
	assert.Equal(t, 1+expiries, st.Issued, "tokens issued")
	assert.Zero(t, st.Errors, "token endpoint errors")
	assert.Positive(t, st.Rejected, "the expiries were noticed through rejections")
}

// runVVToolChild is one fleet process: FLEETTEST_GOROUTINES goroutines calling the emulator's API
// through vvtool.NewClient until the parent says stop. Every 10 ms it publishes the token of its
// last successful call (ok:<name>) and when its oldest call under way began (oldest:<name>, Unix
// nanoseconds; the current time when none is), and it reports every failed call.
func runVVToolChild(e *childEnv) error {
	goroutines, err := strconv.Atoi(os.Getenv(envGoroutines))
	if err != nil {
		return err
	}
	srdb := redis.NewClient(&redis.Options{Addr: os.Getenv(envRedis), PoolSize: 16})
	store := redisstore.New(srdb, redisstore.WithPrefix(e.prefix))
	defer store.Close()
	cfg := vvtool.Config{Account: "account", AccessKey: "key", TokenURL: e.url + "/oauth/token"}
	src, err := vvtool.NewSource(cfg,
		shoptoken.WithStore(store),
		// The default (one fetch per minute per process) would make a process that fetched for the
		// fleet a moment ago refuse the next expiry; the fleet lease is what is under test here.
		shoptoken.WithMinInterval(10*time.Millisecond))
	if err != nil {
		return err
	}
	defer src.Close()
	rec := &okRecorder{base: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: time.Minute}}
	apiCfg := cfg
	apiCfg.HTTPClient = &http.Client{Transport: rec, Timeout: 30 * time.Second}
	cl, err := vvtool.NewClient(apiCfg, src)
	if err != nil {
		return err
	}
	hc := cl.HTTPClient()

	started := make([]atomic.Int64, goroutines) // when each goroutine's call under way began; 0: none
	var reported sync.WaitGroup
	reported.Add(1)
	go func() {
		defer reported.Done()
		for testkit.Sleep(e.ctx, 10*time.Millisecond) {
			// Read the calls first: a call that ends after this read is reported as under way
			// once more, never the other way round.
			oldest := time.Now().UnixNano()
			for i := range started {
				if s := started[i].Load(); s != 0 && s < oldest {
					oldest = s
				}
			}
			tok := rec.last.Load()
			pipe := e.rdb.Pipeline()
			if tok != nil {
				pipe.Set(context.Background(), e.key("ok:"+e.name), *tok, 0)
			}
			pipe.Set(context.Background(), e.key("oldest:"+e.name), oldest, 0)
			_, _ = pipe.Exec(context.Background())
		}
	}()
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for testkit.Sleep(e.ctx, time.Duration(100+rand.IntN(100))*time.Millisecond) {
				started[g].Store(time.Now().UnixNano())
				callInfo(e, hc)
				started[g].Store(0)
			}
		}()
	}
	wg.Wait()
	reported.Wait()
	return nil
}

func callInfo(e *childEnv, hc *http.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.url+"/tool/members/info", nil)
	if err != nil {
		e.fail("request: %v", err)
		return
	}
	resp, err := hc.Do(req)
	if err != nil {
		e.fail("call: %v", err)
		return
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"code":0`) {
		e.fail("answer: HTTP %d %s (read error %v)", resp.StatusCode, short(string(body)), err)
	}
}

// okRecorder remembers the access token of the last request the platform answered with 200 (the
// emulator rejects with 401 by default).
type okRecorder struct {
	base http.RoundTripper
	last atomic.Pointer[string]
}

func (r *okRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.base.RoundTrip(req)
	if err == nil && resp.StatusCode == http.StatusOK {
		tok := strings.TrimPrefix(req.Header.Get("Authorization"), "Bearer ")
		r.last.Store(&tok)
	}
	return resp, err
}
