package httpx

import (
	"context"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
)

func TestClient_Do_multipart(t *testing.T) {
	t.Parallel()
	type seen struct {
		method, mediaType string
		fields            url.Values
		query             string
	}
	var got atomic.Pointer[seen]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		s := &seen{method: r.Method, mediaType: mt, query: r.URL.RawQuery}
		if err := r.ParseMultipartForm(1 << 20); err == nil {
			s.fields = r.MultipartForm.Value
		}
		got.Store(s)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	defer srv.Close()

	c := New(fastConfig(Config{HTTPClient: srv.Client()}))
	fields := url.Values{"grant_type": {"client_credentials"}, "client_id": {"acct"}, "client_secret": {secretClient}}
	resp, err := c.Do(context.Background(), Request{Op: "token", URL: srv.URL + "/oauth/token", Multipart: fields, Secrets: []string{secretClient}})
	require.NoError(t, err)
	assert.Equal(t, 200, resp.StatusCode)

	s := got.Load()
	require.NotNil(t, s)
	assert.Equal(t, http.MethodPost, s.method, "a body makes the default method POST")
	assert.Equal(t, "multipart/form-data", s.mediaType)
	assert.Equal(t, fields, s.fields)
	assert.Empty(t, s.query, "nothing goes into the URL")
}

func TestClient_Do_multipartBody_isStable(t *testing.T) {
	t.Parallel()
	c := New(fastConfig(Config{}))
	fields := url.Values{"b": {"2"}, "a": {"1", "3"}, "c": {""}}
	p, err := c.prepare(Request{Op: "token", URL: "https://x.example/", Multipart: fields})
	require.NoError(t, err)
	_, params, err := mime.ParseMediaType(p.header.Get("Content-Type"))
	require.NoError(t, err)
	want := "--" + params["boundary"] + "\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n" +
		"--" + params["boundary"] + "\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n3\r\n" +
		"--" + params["boundary"] + "\r\nContent-Disposition: form-data; name=\"b\"\r\n\r\n2\r\n" +
		"--" + params["boundary"] + "\r\nContent-Disposition: form-data; name=\"c\"\r\n\r\n\r\n" +
		"--" + params["boundary"] + "--\r\n"
	assert.Equal(t, want, string(p.body), "fields in name order, values in given order")
}

func TestClient_Do_twoBodies(t *testing.T) {
	t.Parallel()
	c := New(fastConfig(Config{}))
	for name, req := range map[string]Request{
		"multipart and form": {Op: "token", URL: "https://x.example/", Form: url.Values{"a": {"1"}}, Multipart: url.Values{"a": {"1"}}},
		"multipart and JSON": {Op: "token", URL: "https://x.example/", Multipart: url.Values{"a": {"1"}}, JSON: []byte(`{}`)},
	} {
		_, err := c.Do(context.Background(), req)
		require.ErrorIs(t, err, shoptoken.ErrBadRequest, name)
	}
}
