package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/fleetproof"
	"github.com/shoptoken/shoptoken/internal/testkit"
)

// The fleet tests run the test binary again as child processes (TestHelperProcess), as
// redisstore's fleet tests do with Redis: several processes on one key of one database, a counted
// fake platform and a board (fleetproof.Board) in this process, over HTTP.

// The environment of a child process.
const (
	envRole   = "SQLSTORE_FLEET_ROLE" // "" in the parent: TestHelperProcess returns at once
	envDB     = "SQLSTORE_FLEET_DB"   // the dialect's name
	envPrefix = "SQLSTORE_FLEET_PREFIX"
	envURL    = "SQLSTORE_FLEET_URL" // the platform
	envChild  = "SQLSTORE_FLEET_CHILD"
	envWorker = "SQLSTORE_FLEET_GOROUTINES"
)

// platform is a counted fake platform whose every token fetch kills the token before it, as
// vv-tool's does: a fleet that fetches twice for one expiry rejects its own callers.
type platform struct {
	*httptest.Server
	fetches atomic.Int64

	mu      sync.Mutex
	current string            // the one live token; "" after Expire
	lastOK  map[string]string // child → the token of its last accepted call
}

func newPlatform(t *testing.T, latency time.Duration) *platform {
	p := &platform{lastOK: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(latency) // a window for a second fetch to overlap the first
		n := p.fetches.Add(1)
		p.mu.Lock()
		p.current = fmt.Sprintf("tok-%d-%s", n, randomHex(4))
		tok := p.current
		p.mu.Unlock()
		_, _ = io.WriteString(w, tok)
	})
	mux.HandleFunc("GET /api", func(w http.ResponseWriter, r *http.Request) {
		tok := r.Header.Get("Authorization")
		p.mu.Lock()
		defer p.mu.Unlock()
		if tok == "" || tok != p.current {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		p.lastOK[r.Header.Get("X-Child")] = tok
	})
	p.Server = httptest.NewServer(mux)
	t.Cleanup(p.Close)
	return p
}

// expire kills the live token, as the platform revoking it would.
func (p *platform) expire() {
	p.mu.Lock()
	p.current = ""
	p.mu.Unlock()
}

func (p *platform) live() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.current
}

func (p *platform) accepted(child string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastOK[child]
}

// startChild re-executes the test binary as a child playing role on e's tables, with env
// (KEY=value) added.
func startChild(t *testing.T, e *testEnv, role, name string, env ...string) *testkit.Child {
	t.Helper()
	return testkit.StartChild(t, name, "TestHelperProcess", append([]string{envRole + "=" + role,
		envDB + "=" + e.srv.name(), envPrefix + "=" + e.prefix, envChild + "=" + name}, env...)...)
}

const fleetKey = "fleet/app/shop-1"

// TestFleet_oneFetchPerExpiry is the multi-process proof on each database: 4 child processes ×
// 50 goroutines call the fake platform's API in a loop with the token of a Cache on one sqlstore
// key (PostgreSQL: with a listener; MySQL: polling). Every fetch kills the token before it, and
// takes 50 ms, so that two processes fetching for one expiry would reject each other's callers.
// The parent expires the live token 10 times, each time once every child has had a call
// accepted with the token after the previous expiry.
//
// Asserted: the platform saw exactly 1 + 10 fetches (one per refresh cycle for the whole fleet),
// and no caller's call failed after its one retry (Invalidate, then the new token).
func TestFleet_oneFetchPerExpiry(t *testing.T) {
	const (
		children   = 4
		goroutines = 50
		expiries   = 10
	)
	eachServer(t, func(t *testing.T, srv server) {
		e := newEnv(t, srv)
		p := newPlatform(t, 50*time.Millisecond)
		board := fleetproof.NewBoard(t)
		kids := make([]*testkit.Child, children)
		for i := range kids {
			kids[i] = startChild(t, e, "fleet", "c"+strconv.Itoa(i), envURL+"="+p.URL, board.Env(),
				envWorker+"="+strconv.Itoa(goroutines))
		}
		check := func() {
			if f := board.List("fail"); len(f) > 0 {
				t.Fatalf("callers saw %d failures, e.g.:\n%s", len(f), strings.Join(f[:min(5, len(f))], "\n"))
			}
			for _, c := range kids {
				if c.Exited() {
					t.Fatalf("child %s exited early (%v):\n%s", c.Name, c.Err(), c.Output())
				}
			}
		}
		recovered := func(what string) {
			testkit.WaitFor(t, 30*time.Second, what, func() (bool, string) {
				check()
				live := p.live()
				for _, c := range kids {
					if live == "" || p.accepted(c.Name) != live {
						return false, "child " + c.Name + " has not had a call accepted with the live token"
					}
				}
				return true, ""
			})
			// Let the calls under way since before the fleet recovered finish: one may have taken
			// the old token and be waiting for its one retry, and a second expiry within one call
			// would fail it for a reason not the store's.
			all := time.Now().UnixNano()
			testkit.WaitFor(t, 30*time.Second, what+" (calls begun before it ending)", func() (bool, string) {
				check()
				for _, c := range kids {
					if n, _ := strconv.ParseInt(board.Get("oldest:"+c.Name), 10, 64); n <= all {
						return false, "child " + c.Name + " has a call under way that began before the fleet recovered"
					}
				}
				return true, ""
			})
		}
		start := time.Now()
		recovered("the fleet's first accepted calls")
		var slowest time.Duration
		for round := 1; round <= expiries; round++ {
			at := time.Now()
			p.expire()
			recovered(fmt.Sprintf("recovery from expiry %d", round))
			slowest = max(slowest, time.Since(at))
		}
		board.Stop(t, 30*time.Second, kids...)
		t.Logf("%d processes × %d goroutines, %d expiries in %v, slowest recovery %v, %d fetches",
			children, goroutines, expiries, time.Since(start).Round(time.Millisecond), slowest.Round(time.Millisecond), p.fetches.Load())
		assert.Empty(t, board.List("fail"), "failed calls")
		assert.EqualValues(t, 1+expiries, p.fetches.Load(), "token fetches: 1 initial + 1 per expiry, for the whole fleet")

		// The store holds the live token, written once per fetch.
		s := e.store(t, 0)
		tok, v, err := s.Load(context.Background(), fleetKey)
		require.NoError(t, err)
		assert.Equal(t, p.live(), tok.AccessToken)
		assert.EqualValues(t, 1+expiries, v, "one Save per fetch")
	})
}

// TestHelperProcess is the body of every child process. It does nothing unless the test binary
// was started by startChild.
func TestHelperProcess(t *testing.T) {
	role := os.Getenv(envRole)
	if role == "" {
		return
	}
	env, err := newChildEnv()
	if err == nil {
		defer env.close()
		switch role {
		case "fleet":
			err = runFleetChild(env)
		case "stall":
			err = fleetproof.RunStall(env.board, env.store, shoptoken.Key{Platform: "fleet", App: "app", Shop: "shop-1"})
		default:
			err = fmt.Errorf("unknown role %q", role)
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "child %s (%s): %v\n", os.Getenv(envChild), role, err)
		os.Exit(3)
	}
	os.Exit(0)
}

// childEnv is what a child knows: its name, its Store on the parent's tables, the platform and
// the parent's board.
type childEnv struct {
	name  string
	url   string
	db    *sql.DB
	store *Store
	hc    *http.Client
	board *fleetproof.Client
	ctx   context.Context // ends when the parent says stop
}

func newChildEnv() (*childEnv, error) {
	var srv server
	for _, s := range servers {
		if s.name() == os.Getenv(envDB) {
			srv = s
		}
	}
	if srv.driver == "" {
		return nil, fmt.Errorf("unknown database %q", os.Getenv(envDB))
	}
	e := &childEnv{name: os.Getenv(envChild), url: os.Getenv(envURL), board: fleetproof.Dial(),
		hc: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 100}}}
	db, err := sql.Open(srv.driver, srv.source())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(16)
	e.db = db
	opts := []Option{WithPrefix(os.Getenv(envPrefix))}
	if srv.d == Postgres {
		opts = append(opts, WithListener(pgxListener(srv.source())))
	}
	if e.store, err = New(context.Background(), db, srv.d, opts...); err != nil {
		return nil, err
	}
	e.ctx = e.board.Stopped()
	return e, nil
}

func (e *childEnv) close() {
	_ = e.store.Close()
	_ = e.db.Close()
}

func (e *childEnv) fail(format string, args ...any) {
	e.board.Append("fail", e.name+": "+fmt.Sprintf(format, args...))
}

// fetch is the fleet's Refresher: one platform fetch.
func (e *childEnv) fetch(ctx context.Context, _ *shoptoken.Token, _ shoptoken.Reason) (*shoptoken.Token, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url+"/token", nil)
	if err != nil {
		return nil, err
	}
	resp, err := e.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return &shoptoken.Token{AccessToken: string(b), Expiry: time.Now().Add(time.Hour)}, nil
}

var errRejected = errors.New("rejected")

// call calls the platform's API with tok.
func (e *childEnv) call(tok *shoptoken.Token) error {
	req, err := http.NewRequest(http.MethodGet, e.url+"/api", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", tok.AccessToken)
	req.Header.Set("X-Child", e.name)
	resp, err := e.hc.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized {
		return errRejected
	}
	return nil
}

// runFleetChild is one fleet process: SQLSTORE_FLEET_GOROUTINES goroutines take the Cache's token
// and call the API until stopped; a rejected call invalidates the token and is retried once, and
// a failure after that is reported.
func runFleetChild(e *childEnv) error {
	n, err := strconv.Atoi(os.Getenv(envWorker))
	if err != nil {
		return err
	}
	c, err := shoptoken.NewCache(shoptoken.RefresherFunc(e.fetch),
		shoptoken.WithKey(shoptoken.Key{Platform: "fleet", App: "app", Shop: "shop-1"}),
		shoptoken.WithStore(e.store),
		// The default (one fetch per minute per process) would make a process that fetched for
		// the fleet a moment ago refuse the next expiry; the fleet lease is what is under test.
		shoptoken.WithMinInterval(10*time.Millisecond))
	if err != nil {
		return err
	}
	defer c.Close()
	started := make([]atomic.Int64, n) // when each goroutine's call under way began; 0: none
	go func() {
		// Every 10 ms: when the oldest call under way began (Unix ns; now when there is none).
		for testkit.Sleep(e.ctx, 10*time.Millisecond) {
			oldest := time.Now().UnixNano()
			for i := range started {
				if s := started[i].Load(); s != 0 && s < oldest {
					oldest = s
				}
			}
			e.board.Set("oldest:"+e.name, strconv.FormatInt(oldest, 10))
		}
	}()
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for testkit.Sleep(e.ctx, time.Duration(5+rand.IntN(20))*time.Millisecond) {
				started[i].Store(time.Now().UnixNano())
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				tok, err := c.Token(ctx)
				if err == nil {
					err = e.call(tok)
					if errors.Is(err, errRejected) {
						if tok, err = c.Invalidate(ctx, tok); err == nil {
							err = e.call(tok)
						}
					}
				}
				cancel()
				if err != nil && e.ctx.Err() == nil {
					e.fail("%v", err)
				}
				started[i].Store(0)
			}
		}()
	}
	wg.Wait()
	return nil
}
