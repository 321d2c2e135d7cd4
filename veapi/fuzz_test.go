package veapi

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/httpx"
)

func seedCorpus(f *testing.F, add func(body []byte)) {
	files, err := filepath.Glob(filepath.Join("testdata", "*"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		add(b)
	}
}

// FuzzDecodeRefresh: whatever the body and status, decoding never panics, a failure is a
// *shoptoken.Error with a kind, and a success carries both tokens.
func FuzzDecodeRefresh(f *testing.F) {
	seedCorpus(f, func(b []byte) {
		f.Add(b, 200)
		f.Add(b, 502)
	})
	log := slog.New(slog.DiscardHandler)
	f.Fuzz(func(t *testing.T, body []byte, status int) {
		status = 100 + (status%500+500)%500
		resp := &httpx.Response{StatusCode: status, Body: body, Request: "POST " + refreshURL}
		tok, err := decodeRefresh(resp, seedNow, log, []string{testVEKey, testRefresh})
		if err != nil {
			var e *shoptoken.Error
			if !errors.As(err, &e) || e.Kind == nil || e.Platform != platform {
				t.Fatalf("error %v is not a veapi *shoptoken.Error with a kind", err)
			}
			if tok != nil {
				t.Fatal("token and error together")
			}
			return
		}
		if tok == nil || tok.AccessToken == "" || tok.RefreshToken == "" {
			t.Fatalf("success without both tokens: %v", tok)
		}
		if !tok.Expiry.IsZero() && !tok.Expiry.After(seedNow) {
			t.Fatalf("expiry %v not after now", tok.Expiry)
		}
		if !tok.RefreshExpiry.IsZero() && !tok.RefreshExpiry.After(seedNow) {
			t.Fatalf("refresh expiry %v not after now", tok.RefreshExpiry)
		}
	})
}

// FuzzAPIRejected: reading an API answer for a rejection never panics.
func FuzzAPIRejected(f *testing.F) {
	seedCorpus(f, func(b []byte) { f.Add(b) })
	f.Fuzz(func(t *testing.T, body []byte) {
		_ = apiRejected(body)
	})
}
