package httpx

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/redact"
)

// fastConfig returns cfg with test-sized backoffs, so retries cost milliseconds.
func fastConfig(cfg Config) Config {
	if cfg.Platform == "" {
		cfg.Platform = "youzan"
	}
	if cfg.BackoffBase == 0 {
		cfg.BackoffBase = time.Millisecond
	}
	if cfg.BackoffMax == 0 {
		cfg.BackoffMax = 5 * time.Millisecond
	}
	return cfg
}

// countingServer starts a server whose handler gets the 1-based hit number.
func countingServer(t *testing.T, h func(w http.ResponseWriter, r *http.Request, hit int)) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h(w, r, int(hits.Add(1)))
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

// closedAddr returns an address nothing listens on: connecting to it is refused.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

func TestClient_Do_buildsRequest(t *testing.T) {
	type captured struct {
		method, url, body string
		header            http.Header
	}
	tests := []struct {
		name       string
		req        Request
		wantMethod string
		wantURL    string
		wantBody   string
		wantCT     string
	}{
		{
			name:       "GET with query merged into URL query",
			req:        Request{URL: "https://api.example.com/p?b=2&a=1", Query: url.Values{"c": {"3 4"}}},
			wantMethod: "GET", wantURL: "https://api.example.com/p?b=2&a=1&c=3+4",
		},
		{
			name:       "form means POST",
			req:        Request{URL: "https://api.example.com/token", Form: url.Values{"grant_type": {"client_credentials"}}},
			wantMethod: "POST", wantURL: "https://api.example.com/token",
			wantBody: "grant_type=client_credentials", wantCT: "application/x-www-form-urlencoded",
		},
		{
			name:       "JSON value is marshalled",
			req:        Request{URL: "https://api.example.com/auth/token", JSON: map[string]any{"refresh": false, "grant_id": "88"}},
			wantMethod: "POST", wantURL: "https://api.example.com/auth/token",
			wantBody: `{"grant_id":"88","refresh":false}`, wantCT: "application/json",
		},
		{
			name:       "JSON bytes are sent as is",
			req:        Request{URL: "https://api.example.com/x", JSON: []byte(`{ "a" : 1 }`)},
			wantMethod: "POST", wantURL: "https://api.example.com/x", wantBody: `{ "a" : 1 }`, wantCT: "application/json",
		},
		{
			name:       "json.RawMessage is sent as is",
			req:        Request{URL: "https://api.example.com/x", JSON: json.RawMessage(`{ }`)},
			wantMethod: "POST", wantURL: "https://api.example.com/x", wantBody: `{ }`, wantCT: "application/json",
		},
		{
			name:       "explicit method wins",
			req:        Request{Method: "put", URL: "https://api.example.com/x", JSON: []byte(`{}`)},
			wantMethod: "PUT", wantURL: "https://api.example.com/x", wantBody: `{}`, wantCT: "application/json",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mock := httpmock.NewMockTransport()
			var got captured
			mock.RegisterNoResponder(func(r *http.Request) (*http.Response, error) {
				var b []byte
				if r.Body != nil {
					b, _ = io.ReadAll(r.Body)
				}
				got = captured{method: r.Method, url: r.URL.String(), body: string(b), header: r.Header.Clone()}
				return httpmock.NewStringResponse(200, `{"ok":true}`), nil
			})
			c := New(fastConfig(Config{HTTPClient: &http.Client{Transport: mock}}))
			tt.req.Header = http.Header{"X-Trace": {"t1"}}
			resp, err := c.Do(context.Background(), tt.req)
			require.NoError(t, err)
			assert.Equal(t, 1, mock.GetTotalCallCount())
			assert.Equal(t, 200, resp.StatusCode)
			assert.JSONEq(t, `{"ok":true}`, string(resp.Body))
			assert.Equal(t, tt.wantMethod, got.method)
			assert.Equal(t, tt.wantURL, got.url)
			assert.Equal(t, tt.wantBody, got.body)
			assert.Equal(t, tt.wantCT, got.header.Get("Content-Type"))
			assert.Equal(t, UserAgent, got.header.Get("User-Agent"))
			assert.Equal(t, "application/json", got.header.Get("Accept"))
			assert.Equal(t, "t1", got.header.Get("X-Trace"))
			assert.Equal(t, tt.wantMethod+" "+redact.URL(tt.wantURL), resp.Request)
		})
	}
}

func TestClient_Do_headerOverridesDefaults(t *testing.T) {
	mock := httpmock.NewMockTransport()
	var ua, accept string
	mock.RegisterNoResponder(func(r *http.Request) (*http.Response, error) {
		ua, accept = r.Header.Get("User-Agent"), r.Header.Get("Accept")
		return httpmock.NewStringResponse(200, `{}`), nil
	})
	c := New(fastConfig(Config{HTTPClient: &http.Client{Transport: mock}}))
	_, err := c.Do(context.Background(), Request{
		URL:    "https://api.example.com/",
		Header: http.Header{"user-agent": {"custom/1"}, "Accept": {"*/*"}},
	})
	require.NoError(t, err)
	assert.Equal(t, "custom/1", ua)
	assert.Equal(t, "*/*", accept)
}

func TestClient_Do_requestRedactedInResponse(t *testing.T) {
	mock := httpmock.NewMockTransport()
	mock.RegisterNoResponder(httpmock.NewStringResponder(200, `{}`))
	c := New(fastConfig(Config{HTTPClient: &http.Client{Transport: mock}}))
	resp, err := c.Do(context.Background(), Request{
		URL:   "https://api.example.com/api/x/1.0?access_token=" + secretAccess,
		Query: url.Values{"page": {"1"}},
	})
	require.NoError(t, err)
	assert.NotContains(t, resp.Request, secretAccess)
	assert.Contains(t, resp.Request, "GET https://api.example.com/api/x/1.0?")
	assert.Contains(t, resp.Request, "page=1")
}

func TestClient_Do_badRequests(t *testing.T) {
	mock := httpmock.NewMockTransport()
	c := New(fastConfig(Config{HTTPClient: &http.Client{Transport: mock}}))
	tests := []struct {
		name string
		req  Request
	}{
		{"form and JSON", Request{Op: "token", URL: "https://x.example/", Form: url.Values{"a": {"1"}}, JSON: []byte(`{}`)}},
		{"relative URL", Request{Op: "token", URL: "/token?access_token=" + secretAccess}},
		{"unparsable URL", Request{Op: "token", URL: "https://x.example/%zz?access_token=" + secretAccess, Secrets: []string{secretAccess}}},
		{"unmarshallable JSON", Request{Op: "token", URL: "https://x.example/", JSON: map[string]any{"f": func() {}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := c.Do(context.Background(), tt.req)
			require.Error(t, err)
			assert.Nil(t, resp)
			require.ErrorIs(t, err, shoptoken.ErrBadRequest)
			var e *shoptoken.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, "youzan", e.Platform)
			assert.Equal(t, "token", e.Op)
			assert.NotContains(t, err.Error(), secretAccess)
		})
	}
	assert.Equal(t, 0, mock.GetTotalCallCount())
}

func TestClient_Do_retries(t *testing.T) {
	tests := []struct {
		name       string
		statuses   []int // answer of hit n; the last one repeats
		retryAfter string
		method     string
		idempotent bool
		retries    int
		wantHits   int
		wantStatus int
	}{
		{name: "503 idempotent is retried", statuses: []int{503}, idempotent: true, wantHits: 3, wantStatus: 503},
		{name: "503 not idempotent is not retried", statuses: []int{503}, wantHits: 1, wantStatus: 503},
		{name: "502 POST not idempotent exactly once", statuses: []int{502}, method: "POST", wantHits: 1, wantStatus: 502},
		{name: "504 not idempotent is not retried", statuses: []int{504}, method: "POST", wantHits: 1, wantStatus: 504},
		{name: "502 idempotent then success", statuses: []int{502, 200}, idempotent: true, wantHits: 2, wantStatus: 200},
		{name: "504 idempotent then success", statuses: []int{504, 504, 200}, idempotent: true, wantHits: 3, wantStatus: 200},
		{name: "500 is never retried", statuses: []int{500}, idempotent: true, wantHits: 1, wantStatus: 500},
		{name: "401 is never retried", statuses: []int{401}, idempotent: true, wantHits: 1, wantStatus: 401},
		{name: "429 without Retry-After is not retried", statuses: []int{429}, idempotent: true, wantHits: 1, wantStatus: 429},
		{name: "429 with Retry-After 0 is retried", statuses: []int{429}, retryAfter: "0", idempotent: true, wantHits: 3, wantStatus: 429},
		{name: "429 not idempotent is not retried", statuses: []int{429}, retryAfter: "0", wantHits: 1, wantStatus: 429},
		{name: "429 with a long Retry-After is returned at once", statuses: []int{429}, retryAfter: "120", idempotent: true, wantHits: 1, wantStatus: 429},
		{name: "503 with a long Retry-After is returned at once", statuses: []int{503}, retryAfter: "3600", idempotent: true, wantHits: 1, wantStatus: 503},
		{name: "503 with Retry-After 0 is retried", statuses: []int{503}, retryAfter: "0", idempotent: true, wantHits: 3, wantStatus: 503},
		{name: "negative Retries means none", statuses: []int{503}, idempotent: true, retries: -1, wantHits: 1, wantStatus: 503},
		{name: "Retries 5 means six attempts", statuses: []int{503}, idempotent: true, retries: 5, wantHits: 6, wantStatus: 503},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, hits := countingServer(t, func(w http.ResponseWriter, r *http.Request, hit int) {
				status := tt.statuses[min(hit, len(tt.statuses))-1]
				if tt.retryAfter != "" {
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				w.WriteHeader(status)
				_, _ = io.WriteString(w, `{"hit":`+strconv.Itoa(hit)+`}`)
			})
			c := New(fastConfig(Config{Retries: tt.retries}))
			req := Request{Op: "call", Method: tt.method, URL: srv.URL + "/x", Idempotent: tt.idempotent}
			if tt.method == "POST" {
				req.Form = url.Values{"a": {"1"}}
			}
			resp, err := c.Do(context.Background(), req)
			require.NoError(t, err)
			assert.Equal(t, tt.wantHits, int(hits.Load()))
			assert.Equal(t, tt.wantStatus, resp.StatusCode)
			assert.JSONEq(t, `{"hit":`+strconv.Itoa(tt.wantHits)+`}`, string(resp.Body), "the last answer is returned")
		})
	}
}

func TestClient_Do_retryAfterHonoured(t *testing.T) {
	t.Parallel()
	var first time.Time
	var gap time.Duration
	srv, hits := countingServer(t, func(w http.ResponseWriter, r *http.Request, hit int) {
		if hit == 1 {
			first = time.Now()
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		gap = time.Since(first)
		_, _ = io.WriteString(w, `{}`)
	})
	// BackoffMax is tiny: only Retry-After can explain a one-second gap.
	c := New(fastConfig(Config{BackoffBase: time.Millisecond, BackoffMax: time.Millisecond}))
	resp, err := c.Do(context.Background(), Request{URL: srv.URL, Idempotent: true})
	require.NoError(t, err)
	assert.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, 2, int(hits.Load()))
	assert.GreaterOrEqual(t, gap, 950*time.Millisecond)
	assert.Less(t, gap, 3*time.Second)
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"1", time.Second, true},
		{" 7 ", 7 * time.Second, true},
		{"0", 0, true},
		{"", 0, false},
		{"-3", 0, false},
		{"soon", 0, false},
		{"99999999999999999999", 0, false},
		{now.Add(10 * time.Second).Format(http.TimeFormat), 10 * time.Second, true},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0, true},
		{"100000", maxRetryAfter + time.Second, true},
	}
	for _, tt := range tests {
		got, ok := retryAfter(tt.in, now)
		assert.Equal(t, tt.wantOK, ok, tt.in)
		assert.Equal(t, tt.want, got, tt.in)
	}
}

func TestClient_backoff(t *testing.T) {
	c := New(Config{BackoffBase: 10 * time.Millisecond, BackoffMax: 50 * time.Millisecond})
	for n := 1; n <= 100; n++ {
		ceiling := min(50*time.Millisecond, 10*time.Millisecond<<min(n-1, 20))
		for range 20 {
			d := c.backoff(n)
			require.GreaterOrEqual(t, d, time.Duration(0))
			require.LessOrEqual(t, d, ceiling, "retry %d", n)
		}
	}
	d := New(Config{})
	assert.Equal(t, defaultBackoffBase, d.backoffBase)
	assert.Equal(t, defaultBackoffMax, d.backoffMax)
	assert.Equal(t, defaultRetries, d.retries)
	assert.Equal(t, int64(defaultMaxBody), d.maxBody)
}

// dialCounter wraps a dialer: it counts dials and fails the first `fail` of them with err, or as
// a refused connection would when err is nil.
type dialCounter struct {
	dials atomic.Int32
	fail  int32
	err   error
}

func (d *dialCounter) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if d.dials.Add(1) <= d.fail {
		err := d.err
		if err == nil {
			err = syscall.ECONNREFUSED
		}
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	var nd net.Dialer
	return nd.DialContext(ctx, network, addr)
}

func TestClient_Do_dialFailureRetried(t *testing.T) {
	t.Parallel()
	srv, hits := countingServer(t, func(w http.ResponseWriter, r *http.Request, hit int) {
		_, _ = io.WriteString(w, `{"access_token":"x"}`)
	})
	dc := &dialCounter{fail: 2}
	hc := &http.Client{Transport: &http.Transport{DialContext: dc.DialContext}}
	c := New(fastConfig(Config{HTTPClient: hc}))
	// A non-idempotent POST: nothing was sent when the dial failed, so retrying is safe.
	resp, err := c.Do(context.Background(), Request{Op: "token", URL: srv.URL, Form: url.Values{"a": {"1"}}})
	require.NoError(t, err)
	assert.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, 3, int(dc.dials.Load()))
	assert.Equal(t, 1, int(hits.Load()))
}

func TestClient_Do_connectionRefused(t *testing.T) {
	t.Parallel()
	dc := &dialCounter{}
	hc := &http.Client{Transport: &http.Transport{DialContext: dc.DialContext}}
	c := New(fastConfig(Config{HTTPClient: hc, Platform: "vvtool"}))
	resp, err := c.Do(context.Background(), Request{Op: "token", URL: "http://" + closedAddr(t) + "/oauth/token", Form: url.Values{"a": {"1"}}})
	require.Error(t, err)
	assert.Nil(t, resp)
	assert.Equal(t, 3, int(dc.dials.Load()), "a refused connection is retried Retries times")
	require.ErrorIs(t, err, shoptoken.ErrUnavailable)
	var e *shoptoken.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, "vvtool", e.Platform)
	assert.Equal(t, "token", e.Op)
	assert.Zero(t, e.StatusCode)
	var op *net.OpError
	require.ErrorAs(t, err, &op)
	assert.Equal(t, "dial", op.Op)
	require.ErrorIs(t, err, syscall.ECONNREFUSED)
	assert.True(t, strings.HasPrefix(err.Error(), "vvtool: token: Post \"http://"), err.Error())
}

func TestClient_Do_dialTimeoutNotRetried(t *testing.T) {
	t.Parallel()
	srv, hits := countingServer(t, func(w http.ResponseWriter, r *http.Request, hit int) {})
	// What net.Dialer returns when its Timeout passes: a dial failure that is also a timeout.
	dc := &dialCounter{fail: 1, err: os.ErrDeadlineExceeded}
	hc := &http.Client{Transport: &http.Transport{DialContext: dc.DialContext}}
	c := New(fastConfig(Config{HTTPClient: hc}))
	_, err := c.Do(context.Background(), Request{Op: "token_info", URL: srv.URL, Idempotent: true})
	require.ErrorIs(t, err, shoptoken.ErrUnavailable)
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	assert.True(t, ne.Timeout())
	assert.Equal(t, 1, int(dc.dials.Load()), "a timeout is not retried, even one while connecting")
	assert.Zero(t, hits.Load())
}

func TestClient_Do_networkErrorURLScrubbed(t *testing.T) {
	t.Parallel()
	// A listed secret outside any secret-named parameter (here in the path): redact.URL cannot know
	// it, so the *url.Error that errors.As finds must be scrubbed too, not only the text around it.
	c := New(fastConfig(Config{Retries: -1}))
	_, err := c.Do(context.Background(), Request{
		Op: "call", URL: "http://" + closedAddr(t) + "/shop/" + secretAccess + "/orders", Secrets: []string{secretAccess},
	})
	require.ErrorIs(t, err, shoptoken.ErrUnavailable)
	var ue *url.Error
	require.ErrorAs(t, err, &ue)
	assert.Contains(t, ue.URL, "/shop/ATKN…(40)/orders")
	assertNoSecretInError(t, err)
}

// hangUp reads the request and closes the connection without an answer: the request reached the
// server, so only an idempotent request may be sent again.
func hangUp(w http.ResponseWriter, r *http.Request, _ int) {
	_, _ = io.Copy(io.Discard, r.Body)
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		_ = conn.Close()
	}
}

func TestClient_Do_sentRequestNotRetried(t *testing.T) {
	t.Parallel()
	srv, hits := countingServer(t, hangUp)
	c := New(fastConfig(Config{}))
	_, err := c.Do(context.Background(), Request{Op: "refresh", URL: srv.URL, Form: url.Values{"refresh_token": {"r"}}})
	require.ErrorIs(t, err, shoptoken.ErrUnavailable)
	assert.Equal(t, 1, int(hits.Load()))
}

func TestClient_Do_sentIdempotentRetried(t *testing.T) {
	t.Parallel()
	srv, hits := countingServer(t, hangUp)
	c := New(fastConfig(Config{}))
	_, err := c.Do(context.Background(), Request{Op: "token_info", URL: srv.URL, Idempotent: true})
	require.ErrorIs(t, err, shoptoken.ErrUnavailable)
	assert.Equal(t, 3, int(hits.Load()))
}

// slowHandler answers after d, or gives up when the client goes away.
func slowHandler(d time.Duration) func(http.ResponseWriter, *http.Request, int) {
	return func(w http.ResponseWriter, r *http.Request, _ int) {
		// Read the body first: only then does the server notice the client hanging up.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-time.After(d):
			_, _ = io.WriteString(w, `{}`)
		case <-r.Context().Done():
		}
	}
}

func TestClient_Do_contextDeadline(t *testing.T) {
	t.Parallel()
	srv, hits := countingServer(t, slowHandler(5*time.Second))
	c := New(fastConfig(Config{}))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	resp, err := c.Do(ctx, Request{Op: "call", URL: srv.URL + "/?access_token=" + secretAccess, Idempotent: true})
	require.Error(t, err)
	assert.Nil(t, resp)
	assert.Less(t, time.Since(start), 2*time.Second)
	require.ErrorIs(t, err, shoptoken.ErrUnavailable)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	var ue *url.Error
	require.ErrorAs(t, err, &ue)
	assert.NotContains(t, ue.URL, secretAccess)
	assert.NotContains(t, err.Error(), secretAccess)
	assert.Equal(t, 1, int(hits.Load()), "a timeout is not retried")
}

func TestClient_Do_clientTimeout(t *testing.T) {
	t.Parallel()
	srv, hits := countingServer(t, slowHandler(5*time.Second))
	c := New(fastConfig(Config{HTTPClient: &http.Client{Timeout: 100 * time.Millisecond}}))
	_, err := c.Do(context.Background(), Request{URL: srv.URL, Idempotent: true})
	require.ErrorIs(t, err, shoptoken.ErrUnavailable)
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	assert.True(t, ne.Timeout())
	assert.Equal(t, 1, int(hits.Load()), "a timeout is not retried")
}

func TestClient_Do_contextCancelled(t *testing.T) {
	t.Parallel()
	srv, hits := countingServer(t, slowHandler(0))
	c := New(fastConfig(Config{}))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.Do(ctx, Request{URL: srv.URL, Idempotent: true})
	require.ErrorIs(t, err, shoptoken.ErrUnavailable)
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, 0, int(hits.Load()))
}

func TestClient_Do_backoffBeyondDeadline(t *testing.T) {
	t.Parallel()
	srv, hits := countingServer(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	c := New(Config{BackoffBase: 10 * time.Second, BackoffMax: 10 * time.Second})
	// Any backoff up to 10s may be drawn; only one that fits before the deadline is waited for.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	resp, err := c.Do(ctx, Request{URL: srv.URL, Idempotent: true})
	elapsed := time.Since(start)
	assert.Less(t, elapsed, time.Second)
	if err == nil {
		assert.Equal(t, 503, resp.StatusCode, "the last answer is returned when the wait cannot fit")
	} else {
		require.ErrorIs(t, err, context.DeadlineExceeded)
	}
	assert.LessOrEqual(t, int(hits.Load()), 3)
}

// countingTransport counts the response body bytes the client reads.
type countingTransport struct {
	base http.RoundTripper
	read atomic.Int64
}

func (ct *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := ct.base.RoundTrip(r)
	if err == nil {
		resp.Body = &countingBody{ReadCloser: resp.Body, n: &ct.read}
	}
	return resp, err
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

func TestClient_Do_bodyCap(t *testing.T) {
	t.Parallel()
	const size = 5 << 20
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		w.Header().Set("Content-Type", "application/json")
		chunk := []byte(strings.Repeat("x", 32<<10))
		for written := 0; written < size; written += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	ct := &countingTransport{base: &http.Transport{}}
	c := New(fastConfig(Config{HTTPClient: &http.Client{Transport: ct}}))
	resp, err := c.Do(context.Background(), Request{Op: "call", URL: srv.URL, Idempotent: true})
	require.Error(t, err)
	assert.Nil(t, resp)
	require.ErrorIs(t, err, shoptoken.ErrBadResponse)
	var e *shoptoken.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, 200, e.StatusCode)
	assert.Equal(t, "response body exceeds 1048576 bytes", e.Message)
	assert.Equal(t, "youzan: call: response body exceeds 1048576 bytes", err.Error())
	assert.LessOrEqual(t, ct.read.Load(), int64(1<<20+1), "the body is read only up to the cap")
}

func TestClient_Do_bodyCapBoundary(t *testing.T) {
	t.Parallel()
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		_, _ = io.WriteString(w, r.URL.Query().Get("body"))
	})
	c := New(fastConfig(Config{MaxBody: 10}))
	resp, err := c.Do(context.Background(), Request{URL: srv.URL + "?body=0123456789"})
	require.NoError(t, err)
	assert.Equal(t, "0123456789", string(resp.Body))

	_, err = c.Do(context.Background(), Request{URL: srv.URL + "?body=0123456789a"})
	require.ErrorIs(t, err, shoptoken.ErrBadResponse)
	assert.Contains(t, err.Error(), "response body exceeds 10 bytes")
}

func TestClient_Do_concurrent(t *testing.T) {
	t.Parallel()
	srv, hits := countingServer(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		_, _ = io.WriteString(w, `{"n":"`+r.URL.Query().Get("n")+`"}`)
	})
	c := New(fastConfig(Config{}))
	const workers, each = 32, 8
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				n := strconv.Itoa(w*each + i)
				resp, err := c.Do(context.Background(), Request{URL: srv.URL, Query: url.Values{"n": {n}}})
				if err != nil {
					errs <- err
					continue
				}
				var out struct{ N string }
				if err := resp.DecodeJSON("youzan", "call", &out); err != nil || out.N != n {
					errs <- errors.New("answer mixed up: want " + n + ", got " + out.N)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.Equal(t, workers*each, int(hits.Load()))
}

func TestNew_doesNotModifyCallerClient(t *testing.T) {
	hc := &http.Client{}
	_ = New(Config{HTTPClient: hc})
	assert.Nil(t, hc.Transport)
}

// TestClient_Do_cancelledDuringWait: a context cancelled while waiting for the next attempt ends
// the wait at once, and the last answer is returned, as when the wait would outlive a deadline.
func TestClient_Do_cancelledDuringWait(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, hits := countingServer(t, func(w http.ResponseWriter, r *http.Request, hit int) {
		w.Header().Set("Retry-After", "20")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, `{"hit":`+strconv.Itoa(hit)+`}`)
		time.AfterFunc(50*time.Millisecond, cancel)
	})
	start := time.Now()
	resp, err := New(fastConfig(Config{})).Do(ctx, Request{URL: srv.URL, Idempotent: true})
	require.NoError(t, err)
	assert.Less(t, time.Since(start), 10*time.Second)
	assert.Equal(t, 503, resp.StatusCode)
	assert.JSONEq(t, `{"hit":1}`, string(resp.Body))
	assert.Equal(t, 1, int(hits.Load()))
}

// TestClient_Do_retriedBodiesClosed: every answer that is retried is read and closed, so its
// connection goes back to the pool: three attempts, one connection.
func TestClient_Do_retriedBodiesClosed(t *testing.T) {
	t.Parallel()
	var hits, conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusBadGateway)
		_, _ = io.WriteString(w, `{"busy":true}`)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	resp, err := New(fastConfig(Config{HTTPClient: &http.Client{Transport: &http.Transport{}}})).
		Do(context.Background(), Request{URL: srv.URL, Idempotent: true})
	require.NoError(t, err)
	assert.Equal(t, 502, resp.StatusCode)
	assert.Equal(t, 3, int(hits.Load()))
	assert.Equal(t, 1, int(conns.Load()))
}
