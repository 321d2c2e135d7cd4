package testkit

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// Redirect is a platform that answers every request with a redirect to another origin, and that
// other origin, which records what reaches it. A client that hands secrets only to the host it was
// configured with leaves Hits at zero.
type Redirect struct {
	// From answers every request with Status and Location To.URL + the request's path + "?" + Query.
	From *httptest.Server
	// To answers 200 with Body to whatever reaches it.
	To *httptest.Server
	// Status is the redirect's status: 301, 302, 303, 307 or 308.
	Status int
	// Query is the Location's query: put secrets here to check that no error or log quotes it.
	Query string
	// Body is what To answers, e.g. a token answer that must not be taken for the platform's.
	Body string

	hits atomic.Int64
	mu   sync.Mutex
	seen []string
}

// NewRedirect starts a Redirect answering status with a Location whose query is query; To answers
// body. Both servers are closed when the test ends.
func NewRedirect(tb testing.TB, status int, query, body string) *Redirect {
	tb.Helper()
	r := &Redirect{Status: status, Query: query, Body: body}
	r.To = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.hits.Add(1)
		r.mu.Lock()
		r.seen = append(r.seen, req.Method+" "+req.URL.String()+" "+string(b))
		r.mu.Unlock()
		_, _ = io.WriteString(w, r.Body)
	}))
	r.From = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, req.Body)
		loc := r.To.URL + req.URL.Path
		if r.Query != "" {
			loc += "?" + r.Query
		}
		w.Header().Set("Location", loc)
		w.WriteHeader(r.Status)
	}))
	tb.Cleanup(r.From.Close)
	tb.Cleanup(r.To.Close)
	return r
}

// Hits returns how many requests reached To.
func (r *Redirect) Hits() int64 { return r.hits.Load() }

// Seen returns the requests that reached To: method, URL and body, one string each.
func (r *Redirect) Seen() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.seen, "\n")
}

// RedirectStatuses returns the statuses net/http follows: 301, 302, 303, 307 and 308.
func RedirectStatuses() []int {
	return []int{http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect}
}
