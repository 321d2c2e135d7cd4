package httpx

import (
	"net"
	"net/url"
	"strings"

	"github.com/shoptoken/shoptoken"
)

// PlainHTTP says where a platform's base URL may use plain http.
type PlainHTTP int

const (
	// HTTPAllowed: the platform serves plain http (veapi, vv-tool: "https 暂无").
	HTTPAllowed PlainHTTP = iota
	// HTTPLoopbackOnly: the platform serves HTTPS (vip.com, Youzan); plain http is for a loopback
	// host only (127.0.0.0/8, ::1, localhost): an emulator or a test server.
	HTTPLoopbackOnly
)

// CheckBaseURL is the one rule for every provider's BaseURL and TokenURL: raw must be an absolute
// http or https URL with a host, and carry no user information, query or fragment (paths are
// appended to it, and a query or user information could carry a key into logs). Plain http is
// accepted as plainHTTP says. An empty raw means the provider's default and is accepted.
//
// The error is a *shoptoken.Error of Kind ErrBadRequest naming field and the rule broken; it never
// shows the URL's user information, query or fragment.
func CheckBaseURL(platform, op, field, raw string, plainHTTP PlainHTTP) error {
	if raw == "" {
		return nil
	}
	bad := func(msg string) error {
		return &shoptoken.Error{Platform: platform, Op: op, Kind: shoptoken.ErrBadRequest, Message: field + " " + msg}
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return bad("must be an absolute http or https URL with a host")
	}
	switch {
	case u.User != nil:
		return bad("must not carry user information")
	case u.RawQuery != "" || u.ForceQuery:
		return bad("must not carry a query")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return bad("must not carry a fragment")
	case u.Hostname() == "":
		return bad("must be an absolute http or https URL with a host")
	case u.Scheme == "http" && plainHTTP == HTTPLoopbackOnly && !Loopback(u.Hostname()):
		return bad("uses plain http to " + Line(u.Host, MaxCode) + ", which is not a loopback host: the platform serves " +
			"HTTPS, and plain http would send secrets unencrypted; use https, or set AllowHTTP on the Config (a proxy on a network you trust)")
	}
	return nil
}

// Loopback reports whether host (a name or an IP address, without a port) is this machine:
// localhost, a name under .localhost, 127.0.0.0/8 or ::1.
func Loopback(host string) bool {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
