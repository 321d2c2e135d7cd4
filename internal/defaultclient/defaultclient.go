// Package defaultclient is the SDK's one policy for the *http.Client used where the caller gave
// none: every constructor and Config of the module that takes an *http.Client, token calls and
// API clients alike, falls back to Shared. A nil client must never mean http.DefaultClient, which
// has no timeout at all: a platform that accepts the connection and never answers would hold a
// refresh, and every caller waiting on it, forever.
//
// It imports only the standard library, so the root package and internal/httpx both use it.
package defaultclient

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// The timeouts of a default client.
const (
	// ConnectTimeout bounds dialing a connection.
	ConnectTimeout = 5 * time.Second
	// TLSHandshakeTimeout bounds the TLS handshake.
	TLSHandshakeTimeout = 5 * time.Second
	// HeaderTimeout bounds the wait for the response headers once the request is sent.
	HeaderTimeout = 15 * time.Second
	// Timeout bounds a whole exchange, reading the body included.
	Timeout = 30 * time.Second
)

// New returns a new *http.Client with the SDK's timeouts, its own small idle connection pool and
// the proxy taken from the environment.
func New() *http.Client {
	dialer := &net.Dialer{Timeout: ConnectTimeout, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   TLSHandshakeTimeout,
		ResponseHeaderTimeout: HeaderTimeout,
		ExpectContinueTimeout: time.Second,
		MaxIdleConns:          32,
		MaxIdleConnsPerHost:   8,
		IdleConnTimeout:       90 * time.Second,
	}
	return &http.Client{Transport: tr, Timeout: Timeout}
}

// Shared returns the one client, made by New, that the whole process uses where no client was
// given, so that one-off calls and thousands of Caches share one connection pool instead of each
// leaving one behind. Callers must not modify it: copy it (hc := *Shared()) to set a Transport.
func Shared() *http.Client { return shared() }

var shared = sync.OnceValue(New)
