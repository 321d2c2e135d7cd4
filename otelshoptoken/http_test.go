package otelshoptoken_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/shoptoken/shoptoken/internal/testkit"
	"github.com/shoptoken/shoptoken/otelshoptoken"
)

const querySecret = "query-secret-value-7a6b5c4d3e2f"

func TestTransport_span(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fail" {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(srv.Close)
	host, port, _ := strings.Cut(strings.TrimPrefix(srv.URL, "http://"), ":")

	tests := []struct {
		name    string
		url     string
		method  string
		status  int
		wantURL string
		errType string
	}{
		{"query values redacted", srv.URL + "/api/x/1.0?access_token=" + querySecret + "&a=1&a=2#frag", http.MethodPost, 200,
			srv.URL + "/api/x/1.0?a=REDACTED&access_token=REDACTED", ""},
		{"user information dropped", "http://user:" + querySecret + "@" + host + ":" + port + "/x", http.MethodGet, 200,
			srv.URL + "/x", ""},
		{"an error status", srv.URL + "/fail", http.MethodGet, 503, srv.URL + "/fail", "503"},
		{"an unknown method", srv.URL + "/x", "PURGE", 200, srv.URL + "/x", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t)
			ctx, parent := r.tracer.Start(context.Background(), "caller")
			req, err := http.NewRequestWithContext(ctx, tt.method, tt.url, nil)
			require.NoError(t, err)
			resp, err := r.tel.HTTPClient(nil).Do(req)
			require.NoError(t, err)
			require.Equal(t, tt.status, resp.StatusCode)
			want := tt.method
			if want == "PURGE" {
				want = "_OTHER"
			}
			assert.Empty(t, r.spansNamed(want), "the span lasts until the body is read")
			_, _ = io.ReadAll(resp.Body)
			require.NoError(t, resp.Body.Close())
			spans := r.spansNamed(want)
			require.Len(t, spans, 1)
			s := spans[0]
			assert.Equal(t, parent.SpanContext().SpanID(), s.Parent().SpanID())
			assert.Equal(t, trace.SpanKindClient, s.SpanKind())
			u, _ := attrOf(s, "url.full")
			assert.Equal(t, tt.wantURL, u.AsString())
			m, _ := attrOf(s, "http.request.method")
			assert.Equal(t, want, m.AsString())
			a, _ := attrOf(s, "server.address")
			assert.Equal(t, "127.0.0.1", a.AsString())
			p, _ := attrOf(s, "server.port")
			assert.Equal(t, port, p.Emit())
			code, _ := attrOf(s, "http.response.status_code")
			assert.EqualValues(t, tt.status, code.AsInt64())
			et, ok := attrOf(s, "error.type")
			if tt.errType == "" {
				assert.False(t, ok)
				assert.Equal(t, codes.Unset, s.Status().Code)
			} else {
				assert.Equal(t, tt.errType, et.AsString())
				assert.Equal(t, codes.Error, s.Status().Code)
			}
			testkit.NoSecret(t, "spans", []string{querySecret}, spanTexts(r.spans.Ended())...)
		})
	}
}

func TestTransport_failures(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/slow?access_token="+querySecret, nil)
	_, err := r.tel.HTTPClient(nil).Do(req)
	require.Error(t, err)

	srv2 := httptest.NewServer(http.NotFoundHandler())
	srv2.Close() // nothing listens
	req, _ = http.NewRequest(http.MethodGet, srv2.URL+"/gone?access_token="+querySecret, nil)
	_, err = r.tel.HTTPClient(nil).Do(req)
	require.Error(t, err)
	require.Contains(t, err.Error(), querySecret, "the transport's error quotes the URL: it must stay out of the span")

	spans := r.spansNamed("GET")
	require.Len(t, spans, 2)
	got := map[string]codes.Code{}
	for _, s := range spans {
		et, _ := attrOf(s, "error.type")
		got[et.AsString()] = s.Status().Code
	}
	assert.Equal(t, map[string]codes.Code{"canceled": codes.Error, "_OTHER": codes.Error}, got)
	testkit.NoSecret(t, "spans", []string{querySecret}, spanTexts(r.spans.Ended())...)
}

func TestHTTPClient_keepsTheClient(t *testing.T) {
	t.Parallel()
	tel, err := otelshoptoken.New(otelshoptoken.WithTracerProvider(noop.NewTracerProvider()))
	require.NoError(t, err)
	assert.Equal(t, 30*time.Second, tel.HTTPClient(nil).Timeout)
	jar, _ := cookiejar.New(nil)
	base := &http.Client{Timeout: time.Second, Jar: jar}
	hc := tel.HTTPClient(base)
	assert.Equal(t, time.Second, hc.Timeout)
	assert.Same(t, jar, hc.Jar)
	assert.Nil(t, base.Transport, "the caller's client is not modified")
	assert.NotNil(t, hc.Transport)

	// With a tracer that records nothing, requests pass through.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") }))
	t.Cleanup(srv.Close)
	resp, err := hc.Get(srv.URL)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	assert.Equal(t, "ok", string(body))
}
