package vipauth

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/httpx"
)

// seedFuzz adds every testdata answer, under a few statuses, and some broken shapes.
func seedFuzz(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no fixtures: %v", err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		for _, status := range []int{200, 400, 401, 502} {
			f.Add(status, b)
		}
		f.Add(200, b[:len(b)/2])
	}
	for _, s := range []string{"", "null", "[]", "<html>", `{"expires_in":"1e400"}`, `{"code":{}}`,
		`{"access_token":"x","create_at":"2015-13-45 99:99:99"}`, "\xef\xbb\xbf{}", `{"code":"0"}`} {
		f.Add(200, []byte(s))
	}
}

// checkErr fails unless err is nil or a *shoptoken.Error with a kind.
func checkErr(t *testing.T, err error) {
	if err == nil {
		return
	}
	var e *shoptoken.Error
	if !errors.As(err, &e) || e.Kind == nil {
		t.Fatalf("error is not a *shoptoken.Error with a kind: %#v", err)
	}
}

func response(status int, body []byte) *httpx.Response {
	return &httpx.Response{StatusCode: status, Header: http.Header{}, Body: body, Request: "POST https://auth.vip.com/oauth2/x"}
}

func FuzzDecodeExchange(f *testing.F) {
	seedFuzz(f)
	issued := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		tok, err := decodeExchange(response(status, body), issued, nil, "secret-secret")
		checkErr(t, err)
		if err == nil && (tok.AccessToken == "" || !tok.Expiry.After(issued)) {
			t.Fatalf("success without a usable token: %v", tok)
		}
	})
}

func FuzzDecodeTokenInfo(f *testing.F) {
	seedFuzz(f)
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		info, err := decodeTokenInfo(response(status, body), "secret-secret")
		checkErr(t, err)
		if err == nil && info.AccessToken == "" {
			t.Fatal("success without an access token")
		}
	})
}

func FuzzDecodeRevoke(f *testing.F) {
	seedFuzz(f)
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		checkErr(t, decodeRevoke(response(status, body), "secret-secret"))
	})
}

func FuzzRejected(f *testing.F) {
	seedFuzz(f)
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		resp := &http.Response{StatusCode: status, Body: io.NopCloser(strings.NewReader(string(body)))}
		_ = Rejected(resp)
		rest, err := io.ReadAll(resp.Body)
		if err != nil || string(rest) != string(body) {
			t.Fatal("the body was not left readable")
		}
	})
}

func FuzzParseCallback(f *testing.F) {
	f.Add("code=abc&state=s", "s")
	f.Add("error=access_denied&error_description=%E7%94%A8%E6%88%B7&state=s", "s")
	f.Add("state=s&state=t&code=", "s")
	f.Fuzz(func(t *testing.T, rawQuery, want string) {
		q, _ := url.ParseQuery(rawQuery)
		code, err := ParseCallback(q, want)
		checkErr(t, err)
		if err == nil && (code == "" || want == "" || q.Get("state") != want) {
			t.Fatalf("accepted a callback it should not: %q want state %q", rawQuery, want)
		}
		if err != nil && code != "" {
			t.Fatal("returned a code with an error")
		}
	})
}
