package fleettest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/testkit"
	"github.com/shoptoken/shoptoken/redisstore"
	"github.com/shoptoken/shoptoken/shoptokentest"
	"github.com/shoptoken/shoptoken/veapi"
)

const (
	veapiKey     = "veapi/fleet/shop-1"   // the Key veapi.NewSource builds for App "fleet", shop "shop-1"
	veapiTTL     = 2 * time.Second        // emulator access-token lifetime: a rotation every ~1 s
	veapiLatency = 300 * time.Millisecond // every emulator answer waits this long before it rotates
)

// TestFleet_Veapi_killDuringRotation is the chaos proof for a rotating refresh token: veapi kills
// the used refresh token at once, so one refresh whose result is not saved, or one refresh made
// with a stale refresh token, ends the authorization chain.
//
// 4 child processes run veapi.NewSource on one Redis key with 2-second access tokens refreshed
// 1 s ahead (a rotation about every second), 10 goroutines each calling the emulator's API
// through veapi.NewClient. The parent SIGKILLs a child 15 times, restarting it each time, with at
// least one rotation between two kills; every other kill targets the child whose refresh request
// is at that moment waiting inside the emulator (the fleet's lease holder, mid-rotation), the
// others a random child at a random moment.
//
// A kill is delayed while it could land in the one window no client can protect: after the
// platform rotated the chain and before the new pair reached Redis. (Then the rotated refresh
// token exists only in the dying process's memory; veapi has no grace period, so nothing can save
// it.) The test knows it is outside that window when Redis holds a save for every token the
// emulator issued (version-1 == Stats.Issued) and no refresh request has been waiting in the
// emulator for more than half its 300 ms latency (children mark their refresh requests in Redis
// before sending them), and it kills within 75 ms of checking.
//
// Asserted afterwards: the emulator never saw a dead refresh token (Stats.DeadRefreshUsed == 0,
// no token-endpoint error), every issued token was saved exactly once, and the refresh token in
// Redis is the chain's live one: one more refresh with it succeeds.
func TestFleet_Veapi_killDuringRotation(t *testing.T) {
	const (
		children = 4
		kills    = 15
	)
	f := newFleet(t)
	ctx := context.Background()
	emu := shoptokentest.NewVeapi(shoptokentest.WithTokenTTL(veapiTTL), shoptokentest.WithLatency(veapiLatency))
	t.Cleanup(emu.Close)
	store := f.store()
	_, err := store.Save(ctx, veapiKey, &shoptoken.Token{RefreshToken: emu.NewGrant("shop-1"), Subject: "shop-1"}, 0)
	require.NoError(t, err)

	kids := make([]*testkit.Child, children)
	for i := range kids {
		kids[i] = f.startChild("veapi", "c"+strconv.Itoa(i), emu.URL)
	}
	saved := func() int64 {
		_, v, err := store.Load(ctx, veapiKey)
		require.NoError(t, err)
		return v - 1 // version 1 is the grant seeded above
	}
	testkit.WaitFor(t, 30*time.Second, "the first rotation", func() (bool, string) {
		return saved() >= 1, "no rotation saved yet"
	})

	// inflight returns the refresh requests under way: child name → when it was sent.
	inflight := func() map[string]time.Time {
		m, err := f.rdb.HGetAll(ctx, f.key("inflight")).Result()
		require.NoError(t, err)
		out := make(map[string]time.Time, len(m))
		for name, ns := range m {
			n, _ := strconv.ParseInt(ns, 10, 64)
			out[name] = time.Unix(0, n)
		}
		return out
	}
	var postponed, midRotation int
	// killSafely kills c once it is outside the unprotectable window (see the test's comment).
	killSafely := func(c *testkit.Child) {
		waited := false
		defer func() {
			if waited {
				postponed++
			}
		}()
		testkit.WaitFor(t, 10*time.Second, "a moment to kill "+c.Name+" without losing a rotation in flight", func() (bool, string) {
			checked := time.Now()
			for name, sent := range inflight() {
				if time.Since(sent) > veapiLatency/2 {
					waited = true
					return false, name + "'s refresh request may be rotating the chain now"
				}
			}
			if s, issued := saved(), emu.Stats().Issued; s != int64(issued) {
				waited = true
				return false, fmt.Sprintf("%d tokens issued, %d saved", issued, s)
			}
			if time.Since(checked) > veapiLatency/4 {
				return false, "the check was too slow to rely on"
			}
			c.Kill()
			return true, ""
		})
		f.rdb.HDel(ctx, f.key("inflight"), c.Name) // its request died with it
	}

	start := time.Now()
	for k := range kills {
		// At least one rotation between two kills, so that the kills land across many rotations
		// (a killed lease holder stops the fleet until its lease lapses, 1.2 s).
		before := saved()
		testkit.WaitFor(t, 20*time.Second, fmt.Sprintf("a rotation after kill %d", k), func() (bool, string) {
			return saved() > before, "no new rotation saved"
		})
		time.Sleep(time.Duration(rand.IntN(400)) * time.Millisecond)
		i := rand.IntN(children)
		if k%2 == 0 {
			// Wait for a refresh request to be under way, and kill the child that sent it.
			testkit.WaitFor(t, 10*time.Second, "a refresh in flight", func() (bool, string) {
				for name, sent := range inflight() {
					if time.Since(sent) < veapiLatency/4 {
						i, _ = strconv.Atoi(strings.TrimPrefix(name, "c"))
						return true, ""
					}
				}
				return false, "no refresh request just sent"
			})
			midRotation++
		}
		if kids[i].Exited() {
			t.Fatalf("child %s exited on its own (%v):\n%s", kids[i].Name, kids[i].Err(), kids[i].Output())
		}
		killSafely(kids[i])
		kids[i] = f.startChild("veapi", kids[i].Name, emu.URL)
	}
	time.Sleep(veapiTTL) // let the restarted fleet rotate once more
	for _, c := range kids {
		killSafely(c)
	}

	st := emu.Stats()
	calls, _ := f.rdb.Get(ctx, f.key("calls")).Int64()
	callErrs, _ := f.rdb.Get(ctx, f.key("callerr")).Int64()
	_, msgs := f.failures()
	t.Logf("%d kills (%d of a child with a refresh in flight) in %v, %d kills postponed by the check; %d calls, %d failed (kills of the lease holder make the fleet wait for its lease to lapse); stats %+v",
		kills, midRotation, time.Since(start).Round(time.Millisecond), postponed, calls, callErrs, st)
	if len(msgs) > 0 {
		t.Logf("some caller errors:\n%s", strings.Join(msgs, "\n"))
	}

	assert.Zero(t, st.DeadRefreshUsed, "refreshes made with a dead refresh token: the chain was lost")
	assert.Zero(t, st.Errors, "token-endpoint errors")
	assert.Equal(t, int64(st.Issued), saved(), "every issued token saved exactly once")
	assert.Greater(t, st.Issued, kills, "the chain rotated throughout the run")
	tok, _, err := store.Load(ctx, veapiKey)
	require.NoError(t, err)
	next, err := veapi.Config{VEKey: "vekey", BaseURL: emu.URL}.Refresh(ctx, tok.RefreshToken)
	require.NoError(t, err, "the refresh token in Redis must be the chain's latest")
	assert.True(t, emu.Valid(next.AccessToken))
	assert.Zero(t, emu.Stats().DeadRefreshUsed)
}

// runVeapiChild is one fleet process on the veapi chain: 10 goroutines take tokens and call the
// emulator's API until stopped. Before each refresh request it records itself in the inflight
// hash (name → Unix nanoseconds), and removes itself when the answer arrives.
func runVeapiChild(e *childEnv) error {
	srdb := redis.NewClient(&redis.Options{Addr: os.Getenv(envRedis), PoolSize: 16})
	store := redisstore.New(srdb, redisstore.WithPrefix(e.prefix))
	defer store.Close()
	hc := &http.Client{Transport: &inflightMarker{e: e, base: http.DefaultTransport}, Timeout: 5 * time.Second}
	src, err := veapi.NewSource(veapi.Config{VEKey: "vekey", App: "fleet", BaseURL: e.url, HTTPClient: hc}, "shop-1",
		shoptoken.WithStore(store),
		shoptoken.WithEarlyRefresh(veapiTTL/2),
		shoptoken.WithExpirySkew(100*time.Millisecond),
		shoptoken.WithMinInterval(100*time.Millisecond),
		shoptoken.WithRefreshTimeout(time.Second),
		shoptoken.WithLeaseTTL(1200*time.Millisecond),
		shoptoken.WithBackoff(50*time.Millisecond, 200*time.Millisecond))
	if err != nil {
		return err
	}
	defer src.Close()
	cl, err := veapi.NewClient(veapi.Config{VEKey: "vekey", App: "fleet", BaseURL: e.url, HTTPClient: &http.Client{Timeout: 5 * time.Second}}, src)
	if err != nil {
		return err
	}
	api := cl.HTTPClient()

	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for testkit.Sleep(e.ctx, time.Duration(20+rand.IntN(30))*time.Millisecond) {
				err := callVeapi(e, api)
				pipe := e.rdb.Pipeline()
				pipe.Incr(context.Background(), e.key("calls"))
				if err != nil {
					pipe.Incr(context.Background(), e.key("callerr"))
					pipe.LPush(context.Background(), e.key("errs"), e.name+": "+short(err.Error()))
					pipe.LTrim(context.Background(), e.key("errs"), 0, 9)
				}
				_, _ = pipe.Exec(context.Background())
			}
		}()
	}
	wg.Wait()
	return nil
}

func callVeapi(e *childEnv, api *http.Client) error {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.url+"/vip/api?method=ping", nil)
	if err != nil {
		return err
	}
	resp, err := api.Do(req)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if !strings.Contains(string(body), `"error":"0"`) {
		return errors.New("api: " + short(string(body)))
	}
	return nil
}

// inflightMarker records the child in the inflight hash while a refresh request is under way.
type inflightMarker struct {
	e    *childEnv
	base http.RoundTripper
}

func (m *inflightMarker) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := context.Background()
	if err := m.e.rdb.HSet(ctx, m.e.key("inflight"), m.e.name, time.Now().UnixNano()).Err(); err != nil {
		return nil, err // the parent must know of every request; better none than an unmarked one
	}
	resp, err := m.base.RoundTrip(req)
	m.e.rdb.HDel(ctx, m.e.key("inflight"), m.e.name)
	return resp, err
}
