package vvtool

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/httpx"
)

func seedFuzz(f *testing.F, add func(body []byte)) {
	files, err := filepath.Glob(filepath.Join("testdata", "*"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		if fi, err := os.Stat(name); err != nil || !fi.Mode().IsRegular() {
			continue // testdata/fuzz holds the fuzzer's own corpus
		}
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		add(b)
	}
}

// FuzzParseToken: any answer either yields a token with an access token, or a *shoptoken.Error
// with a kind; it never panics.
func FuzzParseToken(f *testing.F) {
	seedFuzz(f, func(b []byte) {
		for _, status := range []int{200, 401, 502} {
			f.Add(status, b)
		}
	})
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		resp := &httpx.Response{StatusCode: status, Header: http.Header{}, Body: body}
		fields, err := parseToken(resp, []string{"fuzz-secret-0123456789"})
		if err != nil {
			var e *shoptoken.Error
			if !errors.As(err, &e) || e.Kind == nil || e.Platform != platform {
				t.Fatalf("error %v (%T) is not a *shoptoken.Error of vvtool with a kind", err, err)
			}
			return
		}
		if fields.AccessToken == "" {
			t.Fatal("success without an access token")
		}
		if life, ok := tokenLife(fields.ExpiresIn); ok && (life <= 0 || life > 10*365*24*time.Hour) {
			t.Fatalf("lifetime %v outside (0, 10 years]", life)
		}
	})
}

// FuzzRejected: Rejected never panics and always leaves the whole body readable.
func FuzzRejected(f *testing.F) {
	seedFuzz(f, func(b []byte) { f.Add(200, b) })
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		resp := &http.Response{StatusCode: status, Header: http.Header{}, Body: io.NopCloser(bytes.NewReader(body)), ContentLength: -1}
		_ = Rejected(resp)
		rest, err := io.ReadAll(resp.Body)
		if err != nil || !bytes.Equal(rest, body) {
			t.Fatalf("body changed: %q, %v", rest, err)
		}
	})
}
