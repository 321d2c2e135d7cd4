package shoptoken

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken/internal/testkit"
)

// policySecret is a distinctive 40-character secret for the leak checks.
const policySecret = "PSECRETq7Zr2Lp9Wt6Yk8Nm3Hc5Jd1Fg0Ss2xRv4"

func TestPolicy_printsNoSecret(t *testing.T) {
	p := Policy{Attach: AttachQuery("k"), Secrets: []string{policySecret}}
	for _, out := range testkit.Printed(p) {
		assert.Contains(t, out, "PSEC…(40)")
	}
	testkit.NoSecret(t, "a printed Policy", []string{policySecret}, testkit.Printed(p)...)
	assert.Equal(t, "shoptoken.Policy{Attach: true, Secrets: [PSEC…(40)]}", p.String())
	assert.Equal(t, "shoptoken.Policy{}", Policy{}.String())
}

// Policy.Transport applies each rule, and the zero Policy the Transport's defaults.
func TestPolicy_Transport(t *testing.T) {
	fresh := &Token{AccessToken: "fresh"}
	src := &fakeInvalidator{tok: &Token{AccessToken: "old"}, next: fresh}
	var seen []*http.Request
	base := roundTripper(func(r *http.Request) (*http.Response, error) {
		seen = append(seen, r)
		status := http.StatusOK
		if strings.Contains(r.URL.RawQuery, "old") || r.Header.Get("Authorization") == "Bearer old" {
			status = http.StatusUnauthorized
		}
		return &http.Response{StatusCode: status, Body: http.NoBody, Header: http.Header{}, Request: r}, nil
	})

	req, _ := http.NewRequest(http.MethodGet, "http://api.test/x", nil)
	resp, err := Policy{}.Transport(src, base).RoundTrip(req)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	require.Len(t, seen, 2, "401 is the default rejection: one retry")
	assert.Equal(t, "Bearer fresh", seen[1].Header.Get("Authorization"))

	seen, src.tok = nil, &Token{AccessToken: "old"}
	p := Policy{Attach: AttachQuery("tk"), Rejected: RejectedStatus(http.StatusForbidden), Secrets: []string{policySecret}}
	tr := p.Transport(src, base)
	assert.Equal(t, p.Secrets, tr.Secrets)
	resp, err = tr.RoundTrip(req)
	require.NoError(t, err)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "401 is not this policy's rejection")
	require.Len(t, seen, 1)
	assert.Equal(t, "tk=old", seen[0].URL.RawQuery)
	assert.Empty(t, req.URL.RawQuery, "the caller's request is left alone")
}

// fakeInvalidator hands out tok, and next once tok is invalidated.
type fakeInvalidator struct{ tok, next *Token }

func (f *fakeInvalidator) Token(context.Context) (*Token, error) { return f.tok, nil }

func (f *fakeInvalidator) Invalidate(_ context.Context, rejected *Token) (*Token, error) {
	if same(rejected, f.tok) {
		f.tok = f.next
	}
	return f.tok, nil
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
