package httpx

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/shoptoken/shoptoken"
)

func FuzzDecodeJSON(f *testing.F) {
	seeds := []string{
		``, ` `, `null`, `{}`, `[]`, `"x"`, `0`, `{"access_token":"abc","expires_in":7200}`,
		`{"access_token":`, `{"expires_in":"1"}`, `{"expires_in":1e400}`, `{"data":{"expires":-0.5}}`,
		"\xEF\xBB\xBF{}", "\xff\xfe{}", `<html><body>x</body></html>`, `{"scope":["a",1]}`,
		`{"success":false,"code":1000,"message":"应用信息错误"}`, `{"a":"\ud800"}`, `{}{}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s), 200)
	}
	f.Add([]byte(`<html>503</html>`), 503)
	f.Fuzz(func(t *testing.T, body []byte, status int) {
		r := &Response{StatusCode: status, Body: body}
		for _, v := range []any{&tokenAnswer{}, &map[string]any{}, new(any)} {
			err := r.DecodeJSON("veapi", "refresh", v, "secretvalue")
			if err == nil {
				continue
			}
			var e *shoptoken.Error
			if !errors.As(err, &e) {
				t.Fatalf("error is %T, want *shoptoken.Error", err)
			}
			if status >= 200 && status < 300 && e.Kind != shoptoken.ErrBadResponse {
				t.Fatalf("kind %v for a 2xx answer, want ErrBadResponse", e.Kind)
			}
			if !errors.Is(err, e.Kind) || e.StatusCode != status || e.Platform != "veapi" || e.Op != "refresh" {
				t.Fatalf("inconsistent error %#v", e)
			}
			if strings.ContainsAny(e.Message, "\r\n") {
				t.Fatalf("message spans lines: %q", e.Message)
			}
			// "HTTP nnn: " + description (at most ~110 bytes for a type error) + ": " + 120 runes.
			if n := utf8.RuneCountInString(e.Message); n > 400 {
				t.Fatalf("message of %d characters", n)
			}
		}
		s := Snippet(body)
		if utf8.RuneCountInString(s) > snippetMax || strings.ContainsAny(s, "\r\n\t") || !utf8.ValidString(s) {
			t.Fatalf("bad snippet %q", s)
		}
	})
}
