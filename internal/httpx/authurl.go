package httpx

import (
	"net/url"
	"strings"
)

// AuthQuery is the query of an authorization URL (the page a merchant is sent to): its
// parameters in the order they were first set, so that the URL reads like the platform's
// examples. The zero value is empty and ready to use.
type AuthQuery struct {
	keys []string
	vals map[string]string
}

// Set sets k to v, keeping k's place when it was set before.
func (q *AuthQuery) Set(k, v string) {
	if q.vals == nil {
		q.vals = map[string]string{}
	}
	if _, ok := q.vals[k]; !ok {
		q.keys = append(q.keys, k)
	}
	q.vals[k] = v
}

// Get returns k's value, and whether it is set.
func (q *AuthQuery) Get(k string) (string, bool) {
	v, ok := q.vals[k]
	return v, ok
}

// URL returns page with the query appended, each key and value query-escaped.
func (q *AuthQuery) URL(page string) string {
	var b strings.Builder
	b.WriteString(page)
	for i, k := range q.keys {
		if i == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(k))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(q.vals[k]))
	}
	return b.String()
}

// RedirectURIOK reports whether uri may receive an authorization code: an absolute http or https
// URL with a host and without user information or fragment (RFC 6749 section 3.1.2). A
// javascript: or data: URI would hand the code to a script.
func RedirectURIOK(uri string) bool {
	u, err := url.Parse(uri)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.Opaque == "" &&
		u.User == nil && u.Fragment == "" && !strings.Contains(uri, "#")
}
