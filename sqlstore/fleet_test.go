package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
)

// The fleet tests run the test binary again as child processes (TestHelperProcess), as
// internal/fleettest does with Redis: several processes on one key of one database, a counted
// fake platform and a board in this process, over HTTP.

// The environment of a child process.
const (
	envRole   = "SQLSTORE_FLEET_ROLE" // "" in the parent: TestHelperProcess returns at once
	envDB     = "SQLSTORE_FLEET_DB"   // the dialect's name
	envPrefix = "SQLSTORE_FLEET_PREFIX"
	envURL    = "SQLSTORE_FLEET_URL" // the platform and board
	envChild  = "SQLSTORE_FLEET_CHILD"
	envWorker = "SQLSTORE_FLEET_GOROUTINES"
)

// platform is a counted fake platform whose every token fetch kills the token before it, as
// vv-tool's does: a fleet that fetches twice for one expiry rejects its own callers. It is also
// the board the children report to.
type platform struct {
	*httptest.Server
	fetches atomic.Int64

	mu       sync.Mutex
	current  string            // the one live token; "" after Expire
	lastOK   map[string]string // child → the token of its last accepted call
	failures []string
	board    map[string]string
	lists    map[string][]string
}

func newPlatform(t *testing.T, latency time.Duration) *platform {
	p := &platform{lastOK: map[string]string{}, board: map[string]string{}, lists: map[string][]string{}}
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
	mux.HandleFunc("POST /fail", func(w http.ResponseWriter, r *http.Request) {
		msg, _ := io.ReadAll(io.LimitReader(r.Body, 600))
		p.mu.Lock()
		p.failures = append(p.failures, string(msg))
		p.mu.Unlock()
	})
	mux.HandleFunc("PUT /board/{name}", func(w http.ResponseWriter, r *http.Request) {
		v, _ := io.ReadAll(io.LimitReader(r.Body, 4000))
		p.mu.Lock()
		p.board[r.PathValue("name")] = string(v)
		p.mu.Unlock()
	})
	mux.HandleFunc("POST /board/{name}", func(w http.ResponseWriter, r *http.Request) {
		v, _ := io.ReadAll(io.LimitReader(r.Body, 4000))
		p.mu.Lock()
		p.lists[r.PathValue("name")] = append(p.lists[r.PathValue("name")], string(v))
		p.mu.Unlock()
	})
	mux.HandleFunc("GET /board/{name}", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, p.get(r.PathValue("name")))
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

func (p *platform) set(name, v string) {
	p.mu.Lock()
	p.board[name] = v
	p.mu.Unlock()
}

func (p *platform) get(name string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.board[name]
}

func (p *platform) list(name string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lists[name]...)
}

func (p *platform) failed() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.failures...)
}

// child is a copy of the test binary running TestHelperProcess in some role.
type child struct {
	name string
	cmd  *exec.Cmd
	out  syncBuffer
	done chan struct{}
	err  error // Wait's result, once done is closed
}

// startChild re-executes the test binary as a child playing role on e's tables.
func startChild(t *testing.T, e *testEnv, p *platform, role, name string, env ...string) *child {
	t.Helper()
	c := &child{name: name, done: make(chan struct{})}
	c.cmd = exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1", "-test.v=false")
	c.cmd.Env = append(os.Environ(), envRole+"="+role, envDB+"="+e.srv.name(), envPrefix+"="+e.prefix,
		envURL+"="+p.URL, envChild+"="+name)
	c.cmd.Env = append(c.cmd.Env, env...)
	c.cmd.Stdout, c.cmd.Stderr = &c.out, &c.out
	require.NoError(t, c.cmd.Start(), "start child %s", name)
	go func() {
		c.err = c.cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(c.kill)
	return c
}

func (c *child) kill() {
	select {
	case <-c.done:
		return
	default:
	}
	_ = c.cmd.Process.Kill()
	<-c.done
}

func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// stopChildren tells every child to stop and waits for them to exit cleanly.
func stopChildren(t *testing.T, p *platform, kids ...*child) {
	t.Helper()
	p.set("stop", "1")
	deadline := time.After(30 * time.Second)
	for _, c := range kids {
		select {
		case <-c.done:
			if c.err != nil {
				t.Errorf("child %s exited with %v:\n%s", c.name, c.err, c.out.String())
			}
		case <-deadline:
			t.Errorf("child %s did not stop in time:\n%s", c.name, c.out.String())
			c.kill()
		}
	}
}

// waitFor polls cond every 5 ms until it holds, or fails the test with what cond last said.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	end := time.Now().Add(timeout)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("timed out after %v waiting for %s: %s", timeout, what, why)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.String()
	if len(s) > 4000 {
		s = "…" + s[len(s)-4000:]
	}
	return s
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
		kids := make([]*child, children)
		for i := range kids {
			kids[i] = startChild(t, e, p, "fleet", "c"+strconv.Itoa(i), envWorker+"="+strconv.Itoa(goroutines))
		}
		check := func() {
			if f := p.failed(); len(f) > 0 {
				t.Fatalf("callers saw %d failures, e.g.:\n%s", len(f), strings.Join(f[:min(5, len(f))], "\n"))
			}
			for _, c := range kids {
				if c.exited() {
					t.Fatalf("child %s exited early (%v):\n%s", c.name, c.err, c.out.String())
				}
			}
		}
		recovered := func(what string) {
			waitFor(t, 30*time.Second, what, func() (bool, string) {
				check()
				live := p.live()
				for _, c := range kids {
					p.mu.Lock()
					ok := p.lastOK[c.name]
					p.mu.Unlock()
					if live == "" || ok != live {
						return false, "child " + c.name + " has not had a call accepted with the live token"
					}
				}
				return true, ""
			})
			// Let the calls under way since before the fleet recovered finish: one may have taken
			// the old token and be waiting for its one retry, and a second expiry within one call
			// would fail it for a reason not the store's.
			all := time.Now().UnixNano()
			waitFor(t, 30*time.Second, what+" (calls begun before it ending)", func() (bool, string) {
				check()
				for _, c := range kids {
					if n, _ := strconv.ParseInt(p.get("oldest:"+c.name), 10, 64); n <= all {
						return false, "child " + c.name + " has a call under way that began before the fleet recovered"
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
		stopChildren(t, p, kids...)
		t.Logf("%d processes × %d goroutines, %d expiries in %v, slowest recovery %v, %d fetches",
			children, goroutines, expiries, time.Since(start).Round(time.Millisecond), slowest.Round(time.Millisecond), p.fetches.Load())
		assert.Empty(t, p.failed(), "failed calls")
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
			err = runStallChild(env)
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

// childEnv is what a child knows: its name, its Store on the parent's tables, and the parent.
type childEnv struct {
	name  string
	url   string
	db    *sql.DB
	store *Store
	hc    *http.Client
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
	e := &childEnv{name: os.Getenv(envChild), url: os.Getenv(envURL),
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
	ctx, stop := context.WithCancel(context.Background())
	e.ctx = ctx
	go func() {
		for e.get("stop") != "1" {
			time.Sleep(50 * time.Millisecond)
		}
		stop()
	}()
	return e, nil
}

func (e *childEnv) close() {
	_ = e.store.Close()
	_ = e.db.Close()
}

func (e *childEnv) do(method, path, body string) (string, error) {
	req, err := http.NewRequest(method, e.url+path, strings.NewReader(body))
	if err != nil {
		return "", err
	}
	resp, err := e.hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func (e *childEnv) get(name string) string {
	v, _ := e.do(http.MethodGet, "/board/"+url.PathEscape(name), "")
	return v
}

func (e *childEnv) set(name, v string) {
	_, _ = e.do(http.MethodPut, "/board/"+url.PathEscape(name), v)
}
func (e *childEnv) append(name, v string) {
	_, _ = e.do(http.MethodPost, "/board/"+url.PathEscape(name), v)
}
func (e *childEnv) fail(format string, args ...any) {
	_, _ = e.do(http.MethodPost, "/fail", e.name+": "+fmt.Sprintf(format, args...))
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
		for sleep(e.ctx, 10*time.Millisecond) {
			oldest := time.Now().UnixNano()
			for i := range started {
				if s := started[i].Load(); s != 0 && s < oldest {
					oldest = s
				}
			}
			e.set("oldest:"+e.name, strconv.FormatInt(oldest, 10))
		}
	}()
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for sleep(e.ctx, time.Duration(5+rand.IntN(20))*time.Millisecond) {
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

// sleep sleeps d or until ctx ends; false if ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
