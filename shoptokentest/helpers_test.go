package shoptokentest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/shoptoken/shoptoken/shoptokentest"
	"github.com/stretchr/testify/require"
)

func newClock() *shoptokentest.Clock {
	return shoptokentest.NewClock(time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC))
}

// reply is a read answer.
type reply struct {
	status int
	ctype  string
	body   []byte
	header http.Header
}

// obj decodes the body as a JSON object, keeping numbers as json.Number.
func (r reply) obj(t *testing.T) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.UseNumber()
	var m map[string]any
	require.NoError(t, dec.Decode(&m), "body: %s", r.body)
	return m
}

// keys returns the keys of a JSON object in document order.
func keys(t *testing.T, raw []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	require.NoError(t, err)
	require.Equal(t, json.Delim('{'), tok)
	var out []string
	for dec.More() {
		k, err := dec.Token()
		require.NoError(t, err)
		out = append(out, k.(string))
		var skip json.RawMessage
		require.NoError(t, dec.Decode(&skip))
	}
	return out
}

func do(t *testing.T, c *http.Client, req *http.Request) reply {
	t.Helper()
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return reply{status: resp.StatusCode, ctype: resp.Header.Get("Content-Type"), body: b, header: resp.Header}
}

func newReq(t *testing.T, method, u string, body io.Reader, ctype string, hdr ...string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, u, body)
	require.NoError(t, err)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return req
}

func postJSON(t *testing.T, c *http.Client, u string, body string, hdr ...string) reply {
	t.Helper()
	return do(t, c, newReq(t, http.MethodPost, u, strings.NewReader(body), "application/json", hdr...))
}

func postForm(t *testing.T, c *http.Client, u string, form url.Values, hdr ...string) reply {
	t.Helper()
	return do(t, c, newReq(t, http.MethodPost, u, strings.NewReader(form.Encode()), "application/x-www-form-urlencoded", hdr...))
}

func postMultipart(t *testing.T, c *http.Client, u string, form url.Values, hdr ...string) reply {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, vs := range form {
		for _, v := range vs {
			require.NoError(t, mw.WriteField(k, v))
		}
	}
	require.NoError(t, mw.Close())
	return do(t, c, newReq(t, http.MethodPost, u, &buf, mw.FormDataContentType(), hdr...))
}

func get(t *testing.T, c *http.Client, u string, hdr ...string) reply {
	t.Helper()
	return do(t, c, newReq(t, http.MethodGet, u, nil, "", hdr...))
}

// str and num read JSON values of a decoded object.
func str(t *testing.T, m map[string]any, k string) string {
	t.Helper()
	v, ok := m[k].(string)
	require.True(t, ok, "%s is %T (%v), want a string", k, m[k], m[k])
	return v
}

func num(t *testing.T, m map[string]any, k string) int64 {
	t.Helper()
	v, ok := m[k].(json.Number)
	require.True(t, ok, "%s is %T (%v), want a number", k, m[k], m[k])
	n, err := v.Int64()
	require.NoError(t, err)
	return n
}

func sub(t *testing.T, m map[string]any, k string) map[string]any {
	t.Helper()
	v, ok := m[k].(map[string]any)
	require.True(t, ok, "%s is %T, want an object", k, m[k])
	return v
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// mustRaw returns the raw JSON of the member k of the object body.
func mustRaw(t *testing.T, body []byte, k string) []byte {
	t.Helper()
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(body, &m))
	raw, ok := m[k]
	require.True(t, ok, "no %q in %s", k, body)
	return raw
}
