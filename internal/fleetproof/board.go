package fleetproof

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shoptoken/shoptoken/internal/testkit"
)

// EnvBoard is the environment variable that gives a child the URL of its parent's Board.
const EnvBoard = "FLEETPROOF_BOARD"

// Board is a small store of named values and lists that the parent serves over HTTP to its
// children: they report there (the token they hold, each Save they made) and read the parent's
// instructions there ("resume", "stop"). It is independent of the store under test, so that a
// proof about a store does not rest on that store.
type Board struct {
	srv *httptest.Server

	mu    sync.Mutex
	vals  map[string]string
	lists map[string][]string
}

// NewBoard starts a Board, closed when the test ends.
func NewBoard(tb testing.TB) *Board {
	b := &Board{vals: map[string]string{}, lists: map[string][]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /v/{name}", func(w http.ResponseWriter, r *http.Request) {
		v, _ := io.ReadAll(io.LimitReader(r.Body, 4000))
		b.Set(r.PathValue("name"), string(v))
	})
	mux.HandleFunc("GET /v/{name}", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, b.Get(r.PathValue("name")))
	})
	mux.HandleFunc("POST /l/{name}", func(w http.ResponseWriter, r *http.Request) {
		v, _ := io.ReadAll(io.LimitReader(r.Body, 4000))
		b.Append(r.PathValue("name"), string(v))
	})
	b.srv = httptest.NewServer(mux)
	tb.Cleanup(b.srv.Close)
	return b
}

// Env is the KEY=value that gives a child this Board (see Dial).
func (b *Board) Env() string { return EnvBoard + "=" + b.srv.URL }

// Set sets the value name.
func (b *Board) Set(name, v string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.vals[name] = v
}

// Get returns the value name; "" if it was never set.
func (b *Board) Get(name string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.vals[name]
}

// Append appends v to the list name.
func (b *Board) Append(name, v string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lists[name] = append(b.lists[name], v)
}

// List returns a copy of the list name, oldest first.
func (b *Board) List(name string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.lists[name]...)
}

// Stop tells the children to stop (the value "stop") and waits up to timeout for each to exit
// cleanly, failing the test for each that does not.
func (b *Board) Stop(tb testing.TB, timeout time.Duration, kids ...*testkit.Child) {
	tb.Helper()
	b.Set("stop", "1")
	testkit.WaitChildren(tb, timeout, kids...)
}

// Client is a child's connection to its parent's Board. A failed request reads as "" and a
// failed write is dropped: the parent sees what reached it.
type Client struct {
	url string
	hc  *http.Client
}

// Dial returns the Client of the Board that EnvBoard names.
func Dial() *Client {
	return &Client{url: os.Getenv(EnvBoard), hc: &http.Client{Timeout: 10 * time.Second}}
}

func (c *Client) do(method, path, body string) string {
	req, err := http.NewRequest(method, c.url+path, strings.NewReader(body))
	if err != nil {
		return ""
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	v, _ := io.ReadAll(resp.Body)
	return string(v)
}

// Set sets the value name.
func (c *Client) Set(name, v string) { c.do(http.MethodPut, "/v/"+url.PathEscape(name), v) }

// Get returns the value name.
func (c *Client) Get(name string) string { return c.do(http.MethodGet, "/v/"+url.PathEscape(name), "") }

// Append appends v to the list name.
func (c *Client) Append(name, v string) { c.do(http.MethodPost, "/l/"+url.PathEscape(name), v) }

// Stopped returns a context that ends once the parent has said stop (Board.Stop). It checks
// every 50 ms.
func (c *Client) Stopped() context.Context {
	ctx, stop := context.WithCancel(context.Background())
	go func() {
		for c.Get("stop") != "1" {
			time.Sleep(50 * time.Millisecond)
		}
		stop()
	}()
	return ctx
}
