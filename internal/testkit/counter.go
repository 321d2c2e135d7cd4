package testkit

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// Counter is a server that counts the requests reaching it and answers each with Body.
type Counter struct {
	*httptest.Server
	// Body is every answer's body.
	Body string
	hits atomic.Int64
}

// NewCounter starts a Counter answering body; it is closed when the test ends.
func NewCounter(tb testing.TB, body string) *Counter {
	tb.Helper()
	c := &Counter{Body: body}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.hits.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, c.Body)
	}))
	tb.Cleanup(c.Close)
	return c
}

// Hits returns how many requests arrived.
func (c *Counter) Hits() int64 { return c.hits.Load() }

// Blanks are values that hold nothing but white space: a credential made of them must be refused
// before anything is sent.
func Blanks() []string { return []string{" ", "\t\n", "\u3000"} }
