package shoptoken

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken/internal/defaultclient"
	"github.com/shoptoken/shoptoken/internal/testkit"
)

// wrappingTransport fails every request with an error that quotes the URL it was given, as
// logging, tracing and proxy transports do.
type wrappingTransport struct{ cause error }

func (w wrappingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return nil, fmt.Errorf("tracing: %s %s: %w", r.Method, r.URL, w.cause)
}

func staticSource(tb testing.TB, tok string) *Cache {
	tb.Helper()
	return newTestCache(tb, RefresherFunc(func(context.Context, *Token, Reason) (*Token, error) {
		return &Token{AccessToken: tok, Expiry: time.Now().Add(time.Hour)}, nil
	}))
}

// TestTransport_RoundTrip_baseErrorScrubbed: an error from Base shows neither the token nor any of
// Secrets, whatever parameter carries them, and still matches what Base wrapped.
func TestTransport_RoundTrip_baseErrorScrubbed(t *testing.T) {
	const (
		access = "AT9q2Wm7Xz4Nv8Pb3Kj7Lr1Hc5Gs9Fd2Ea6Ty0Uz"
		vekey  = "VK4b1Ns5Xq9Mv3Pz8Kr2Lw6Jh0Gf4Dc7Sa1Ey5Ux"
	)
	cause := errors.New("connection reset")
	tests := []struct {
		name    string
		attach  func(*http.Request, *Token)
		secrets []string
	}{
		{"access_token in the query", AttachQuery("access_token"), nil},
		{"sessionkey and vekey in the query", func(r *http.Request, tok *Token) {
			q := r.URL.Query()
			q.Set("sessionkey", tok.AccessToken)
			q.Set("vekey", vekey)
			r.URL.RawQuery = q.Encode()
		}, []string{vekey}},
		{"token in the path", func(r *http.Request, tok *Token) { r.URL.Path += "/" + tok.AccessToken }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := staticSource(t, access)
			defer c.Close()
			hc := &http.Client{Transport: &Transport{Source: c, Base: wrappingTransport{cause}, Attach: tt.attach, Secrets: tt.secrets}}
			_, err := hc.Get("http://api.example.test/orders?id=1")
			require.Error(t, err)
			require.ErrorIs(t, err, cause)
			testkit.NoSecret(t, "error from Base", []string{access, vekey}, testkit.ErrorTexts(err)...)
		})
	}
}

// redirectingTransport answers every request with a redirect to location.
type redirectingTransport struct{ location string }

func (rt redirectingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: http.StatusFound, Header: http.Header{"Location": {rt.location}},
		Body: io.NopCloser(strings.NewReader("")), Request: r}, nil
}

// TestTransport_scrub_locationEscapesAnyCase: a token echoed in Location is removed whether its
// escapes are written %2B or %2b.
func TestTransport_scrub_locationEscapesAnyCase(t *testing.T) {
	const access = "AT+q2Wm7/z4Nv8Pb3Kj7Lr1Hc5Gs9Fd2Ea6Ty0U=="
	upper := url.QueryEscape(access)
	lower := strings.NewReplacer("%2B", "%2b", "%2F", "%2f", "%3D", "%3d").Replace(upper)
	require.NotEqual(t, upper, lower)
	for _, spelled := range []string{access, upper, lower, url.PathEscape(access)} {
		c := staticSource(t, access)
		tr := &Transport{Source: c, Attach: AttachQuery("access_token"),
			Base: redirectingTransport{"https://api.example.test/final?access_token=" + spelled + "&id=1"}}
		req, err := http.NewRequest(http.MethodGet, "https://api.example.test/start?id=1", nil)
		require.NoError(t, err)
		resp, err := tr.RoundTrip(req)
		require.NoError(t, err)
		resp.Body.Close()
		loc := resp.Header.Get("Location")
		assert.Equal(t, "https://api.example.test/final?access_token=&id=1", loc, spelled)
		testkit.NoSecret(t, "Location", []string{access, upper, lower}, loc)
		c.Close()
	}
}

// TestNewClient_nilBaseHasTimeouts: a nil base is the SDK's default client, never one without a
// timeout.
func TestNewClient_nilBaseHasTimeouts(t *testing.T) {
	c := staticSource(t, "AT9q2Wm7Xz4Nv8Pb3Kj7Lr1Hc5Gs9Fd2Ea6Ty0Uz")
	defer c.Close()
	hc := NewClient(c, nil)
	assert.Equal(t, defaultclient.Timeout, hc.Timeout)
	tr, ok := hc.Transport.(*Transport)
	require.True(t, ok)
	base, ok := tr.Base.(*http.Transport)
	require.True(t, ok, "Base is %T", tr.Base)
	assert.Equal(t, defaultclient.HeaderTimeout, base.ResponseHeaderTimeout)
}

// TestTransport_printsRedacted: a Transport, and a client built on one, print and log Secrets
// shortened in every fmt verb and both slog handlers.
func TestTransport_printsRedacted(t *testing.T) {
	const vekey = "VK4b1Ns5Xq9Mv3Pz8Kr2Lw6Jh0Gf4Dc7Sa1Ey5Ux"
	c := staticSource(t, "AT9q2Wm7Xz4Nv8Pb3Kj7Lr1Hc5Gs9Fd2Ea6Ty0Uz")
	defer c.Close()
	tr := &Transport{Source: c, Secrets: []string{vekey}}
	hc := &http.Client{Transport: tr}
	for name, v := range map[string]any{"Transport": *tr, "*Transport": tr, "*http.Client": hc} {
		testkit.NoSecret(t, name, []string{vekey}, testkit.Printed(v)...)
	}
	assert.Equal(t, "shoptoken.Transport{Source: *shoptoken.Cache, Secrets: [VK4b…(40)]}", tr.String())
}
