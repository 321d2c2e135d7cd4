package shoptoken

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rotatingServer accepts only the newest token it was told about.
type rotatingServer struct {
	mu     sync.Mutex
	valid  string
	hits   atomic.Int64
	bodies []string
}

func (s *rotatingServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.hits.Add(1)
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.bodies = append(s.bodies, string(b))
	ok := r.Header.Get("Authorization") == "Bearer "+s.valid || r.URL.Query().Get("access_token") == s.valid
	s.mu.Unlock()
	if !ok {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"msg":"身份凭证无效"}`)
		return
	}
	_, _ = io.WriteString(w, "ok")
}

func (s *rotatingServer) set(tok string) {
	s.mu.Lock()
	s.valid = tok
	s.mu.Unlock()
}

func TestTransport_RoundTrip_retriesOnceWithReplayedBody(t *testing.T) {
	srv := &rotatingServer{}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	up := newUpstream(time.Now, time.Hour)
	var platformAccepts atomic.Bool
	platformAccepts.Store(true)
	c := newTestCache(t, RefresherFunc(func(ctx context.Context, cur *Token, why Reason) (*Token, error) {
		tok, err := up.Refresh(ctx, cur, why)
		if err == nil && platformAccepts.Load() {
			srv.set(tok.AccessToken)
		}
		return tok, err
	}), WithMinInterval(0))
	hc := NewClient(c, nil)
	post := func(body string) int {
		resp, err := hc.Post(ts.URL, "text/plain", strings.NewReader(body))
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	assert.Equal(t, 200, post("body-1"))
	srv.set("rotated-elsewhere") // another process took over: our token is rejected
	assert.Equal(t, 200, post("body-2"), "invalidated, refreshed, retried")
	assert.Equal(t, int64(3), srv.hits.Load())
	srv.mu.Lock()
	assert.Equal(t, []string{"body-1", "body-2", "body-2"}, srv.bodies, "the body is replayed on the retry")
	srv.mu.Unlock()
	// A platform that rejects every token: one retry, then the caller sees the 401. No loop.
	platformAccepts.Store(false)
	srv.set("nobody")
	assert.Equal(t, 401, post("body-3"))
	assert.Equal(t, int64(5), srv.hits.Load())
	assert.Equal(t, int64(3), up.calls.Load())
}

func TestTransport_RoundTrip_concurrentRejectionsOneRefresh(t *testing.T) {
	srv := &rotatingServer{}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	var calls atomic.Int64
	c := newTestCache(t, RefresherFunc(func(context.Context, *Token, Reason) (*Token, error) {
		n := calls.Add(1)
		tok := &Token{AccessToken: "t" + strconv.Itoa(int(n)), Expiry: time.Now().Add(time.Hour)}
		srv.set(tok.AccessToken)
		return tok, nil
	}), WithMinInterval(0))
	hc := &http.Client{Transport: &Transport{Source: c, Attach: AttachQuery("access_token")}}
	_, err := c.Token(context.Background())
	require.NoError(t, err)
	srv.set("superseded")
	var wg sync.WaitGroup
	var fails atomic.Int64
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := hc.Get(ts.URL + "/api?x=1")
			if err != nil {
				fails.Add(1)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				fails.Add(1)
			}
		}()
	}
	wg.Wait()
	assert.Zero(t, fails.Load())
	assert.Equal(t, int64(2), calls.Load(), "100 rejections of one token: one refresh")
}

func TestTransport_RoundTrip_refreshErrorReachesCaller(t *testing.T) {
	srv := &rotatingServer{}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	first := true
	c := newTestCache(t, RefresherFunc(func(context.Context, *Token, Reason) (*Token, error) {
		if first {
			first = false
			return &Token{AccessToken: "t1", Expiry: time.Now().Add(time.Hour)}, nil
		}
		return nil, &Error{Platform: "test", Kind: ErrReauthorize}
	}), WithMinInterval(0))
	hc := NewClient(c, nil)
	resp, err := hc.Get(ts.URL + "/?access_token=leak-me-if-you-can-1234567890")
	if resp != nil {
		resp.Body.Close()
	}
	require.ErrorIs(t, err, ErrReauthorize)
	assert.NotContains(t, err.Error(), "t1")
}

func TestPeekBody_leavesBodyReadable(t *testing.T) {
	resp := &http.Response{Body: io.NopCloser(strings.NewReader("hello world"))}
	head, err := PeekBody(resp, 5)
	require.NoError(t, err)
	assert.Equal(t, "hello", string(head))
	all, _ := io.ReadAll(resp.Body)
	assert.Equal(t, "hello world", string(all))
}

// TestTransport_redirects: the token is attached on every hop to the same origin, never sent to
// another host, never left in a redirect's Location (where Go would build the next hop's URL, and
// any *url.Error, from it), and the Response.Request handed back is the caller's, without it.
func TestTransport_redirects(t *testing.T) {
	const secret = "tok-0123456789abcdef0123456789abcdef"
	var otherSaw atomic.Value
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		otherSaw.Store(r.Header.Get("Authorization") + " " + r.URL.RawQuery)
		_, _ = io.WriteString(w, "other")
	}))
	defer other.Close()
	var hops atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hops.Add(1)
		switch r.URL.Path {
		case "/echo": // moved, keeping the query: the token comes back in Location
			http.Redirect(w, r, "/final?"+r.URL.RawQuery, http.StatusFound)
		case "/away":
			http.Redirect(w, r, other.URL+"/landing", http.StatusFound)
		case "/final":
			_, _ = io.WriteString(w, r.URL.Query().Get("access_token")+"|"+r.URL.Query().Get("id"))
		}
	}))
	defer srv.Close()
	c := newTestCache(t, RefresherFunc(func(context.Context, *Token, Reason) (*Token, error) {
		return &Token{AccessToken: secret, Expiry: time.Now().Add(time.Hour)}, nil
	}))
	defer c.Close()
	hc := &http.Client{Transport: &Transport{Source: c, Attach: AttachQuery("access_token")}}

	resp, err := hc.Get(srv.URL + "/echo?id=7")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, secret+"|7", string(body), "the same origin's next hop gets the token again")
	assert.NotContains(t, resp.Request.URL.String(), secret, "Response.Request is the caller's")

	resp, err = hc.Get(srv.URL + "/away")
	require.NoError(t, err)
	resp.Body.Close()
	saw, _ := otherSaw.Load().(string)
	assert.NotContains(t, saw, secret, "another host never gets the token")

	// A hop that fails: Go's *url.Error names the URL it built from Location.
	hc.CheckRedirect = func(req *http.Request, via []*http.Request) error { return io.ErrUnexpectedEOF }
	_, err = hc.Get(srv.URL + "/echo?id=8")
	require.Error(t, err)
	assert.NotContains(t, err.Error(), secret)
	assert.Equal(t, int64(4), hops.Load())
}

// TestTransport_Settled: the hook sees the tokens each request was sent with and whether the final
// answer was a rejection, and can fail the request.
func TestTransport_Settled(t *testing.T) {
	srv := &rotatingServer{}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	up := newUpstream(time.Now, time.Hour)
	var accepts atomic.Bool
	accepts.Store(true)
	c := newTestCache(t, RefresherFunc(func(ctx context.Context, cur *Token, why Reason) (*Token, error) {
		tok, err := up.Refresh(ctx, cur, why)
		if err == nil && accepts.Load() {
			srv.set(tok.AccessToken)
		}
		return tok, err
	}), WithMinInterval(0))
	defer c.Close()
	type settled struct {
		sent     []string
		rejected bool
	}
	var got []settled
	errRefused := errors.New("refused twice")
	hc := &http.Client{Transport: &Transport{Source: c,
		Settled: func(req *http.Request, resp *http.Response, sent []*Token, rejected bool) (*http.Response, error) {
			var s settled
			for _, tok := range sent {
				s.sent = append(s.sent, tok.AccessToken)
			}
			s.rejected = rejected
			got = append(got, s)
			if rejected && len(sent) == 2 {
				resp.Body.Close()
				return nil, errRefused
			}
			return resp, nil
		}}}
	get := func() error {
		resp, err := hc.Get(ts.URL)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	require.NoError(t, get())
	srv.set("rotated-elsewhere")
	require.NoError(t, get())
	accepts.Store(false)
	srv.set("nobody")
	require.ErrorIs(t, get(), errRefused)
	assert.Equal(t, []settled{
		{sent: []string{"tok-1"}},
		{sent: []string{"tok-1", "tok-2"}},
		{sent: []string{"tok-2", "tok-3"}, rejected: true},
	}, got)
}

func TestAttachQuery(t *testing.T) {
	tok := &Token{AccessToken: "a+b/c="}
	tests := []struct{ in, want string }{
		{"", "access_token=a%2Bb%2Fc%3D"},
		{"page=2&size=50", "page=2&size=50&access_token=a%2Bb%2Fc%3D"},
		{"z=1&a=2", "z=1&a=2&access_token=a%2Bb%2Fc%3D"},            // the caller's order is kept
		{"access_token=old&id=7", "access_token=a%2Bb%2Fc%3D&id=7"}, // an existing value is replaced
		{"id=7&access%5Ftoken=old", "access_token=a%2Bb%2Fc%3D&id=7"},
		{"id=7&access_token", "access_token=a%2Bb%2Fc%3D&id=7"},
		{"access_tokens=1", "access_tokens=1&access_token=a%2Bb%2Fc%3D"},
	}
	attach := AttachQuery("access_token")
	for _, tt := range tests {
		r, err := http.NewRequest(http.MethodGet, "https://api.example.test/x", nil)
		require.NoError(t, err)
		r.URL.RawQuery = tt.in
		attach(r, tok)
		assert.Equal(t, tt.want, r.URL.RawQuery, tt.in)
		assert.Equal(t, []string{tok.AccessToken}, r.URL.Query()["access_token"], tt.in)
	}
}
