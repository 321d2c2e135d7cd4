package youzan

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/httpx"
	"github.com/shoptoken/shoptoken/shoptokentest"
)

func seedFuzz(f *testing.F, prefixes ...string) {
	f.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		base := filepath.Base(name)
		for _, p := range prefixes {
			if strings.HasPrefix(base, p) {
				b, err := os.ReadFile(name)
				if err != nil {
					f.Fatal(err)
				}
				f.Add(uint16(200), b)
			}
		}
	}
	f.Add(uint16(502), []byte("<html>bad gateway</html>"))
	f.Add(uint16(200), []byte(`{"success":"true","code":"200","data":"{\"access_token\":1}"}`))
	f.Add(uint16(200), []byte(`{"data":{"expires":-1,"access_token":"x"},"success":true}`))
	f.Add(uint16(200), []byte(`{"gw_err_resp":null,"error_response":{"code":[1]}}`))
	f.Add(uint16(500), []byte(`{"success":false,"code":1e400}`))
}

// checkErr fails unless err is nil or a *shoptoken.Error with a kind.
func checkErr(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var e *shoptoken.Error
	if !errors.As(err, &e) || e.Kind == nil || e.Platform != platform {
		t.Fatalf("error %v (%T) is not a *shoptoken.Error with a kind", err, err)
	}
	if strings.Contains(err.Error(), "fuzz-secret-0123456789") {
		t.Fatalf("secret in %q", err.Error())
	}
}

func FuzzParseToken(f *testing.F) {
	seedFuzz(f, "token_")
	cfg := Config{ClientID: "id", ClientSecret: "fuzz-secret-0123456789",
		Clock: shoptokentest.NewClock(time.Date(2020, 3, 2, 0, 0, 0, 0, time.UTC))}
	f.Fuzz(func(t *testing.T, status uint16, body []byte) {
		resp := &httpx.Response{StatusCode: int(status%600) + 100, Body: body}
		for _, op := range []string{opToken, opRefresh} {
			tok, err := cfg.parseToken(resp, op, []string{cfg.ClientSecret})
			checkErr(t, err)
			if err == nil && (tok == nil || tok.AccessToken == "" || !tok.Expiry.After(cfg.now())) {
				t.Fatalf("no error but token %v", tok)
			}
		}
	})
}

func FuzzParseCall(f *testing.F) {
	seedFuzz(f, "gw_", "call_", "legacy_")
	f.Fuzz(func(t *testing.T, status uint16, body []byte) {
		resp := &httpx.Response{StatusCode: int(status%600) + 100, Body: body}
		res := parseCall(resp, []string{"fuzz-secret-0123456789"})
		checkErr(t, res.err)
		if res.rejected != 0 && (res.err == nil || !errors.Is(res.err, shoptoken.ErrTokenInvalid)) {
			t.Fatalf("rejected %d without ErrTokenInvalid: %v", res.rejected, res.err)
		}
		if res.err != nil {
			return
		}
		st := &state{lim: limiter{now: time.Now}}
		var out map[string]any
		checkErr(t, st.finish(context.Background(), "1", "api", res, &out))
		var raw json.RawMessage
		checkErr(t, st.finish(context.Background(), "1", "api", res, &raw))
	})
}
