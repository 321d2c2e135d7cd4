package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/shoptoken/shoptoken"
)

// utf8BOM is the byte order mark some gateways put in front of a JSON body.
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// DecodeJSON unmarshals the body into v. A body that cannot be decoded (empty, markup such as a
// gateway's HTML page, malformed or truncated JSON, the literal null, or values of the wrong type
// for v) yields a *shoptoken.Error with the status, Kind ErrBadResponse, a Message saying what is
// wrong followed by a short redacted snippet of the body, and the json error as Err. When the status
// is not 2xx and the body is not JSON at all, the Kind is shoptoken.KindForStatus(status) instead,
// so a 503 HTML page is ErrUnavailable. A leading UTF-8 byte order mark is ignored.
func (r *Response) DecodeJSON(platform, op string, v any, secrets ...string) error {
	body := bytes.TrimPrefix(r.Body, utf8BOM)
	trimmed := bytes.TrimSpace(body)
	var (
		what    string
		notJSON bool
		jerr    error
	)
	switch {
	case len(trimmed) == 0:
		what, notJSON = "empty body", true
	case trimmed[0] == '<':
		what, notJSON = "markup instead of JSON", true
		if isHTML(trimmed) {
			what = "HTML page instead of JSON"
		}
	case bytes.Equal(trimmed, []byte("null")):
		what = "JSON null instead of a value"
	default:
		if jerr = json.Unmarshal(body, v); jerr == nil {
			return nil
		}
		what, notJSON = describeJSONError(jerr)
	}

	kind := shoptoken.ErrBadResponse
	if notJSON && !is2xx(r.StatusCode) {
		kind = shoptoken.KindForStatus(r.StatusCode)
	}
	msg := what
	if !is2xx(r.StatusCode) {
		msg = "HTTP " + strconv.Itoa(r.StatusCode) + ": " + what
	}
	if s := Snippet(r.Body, secrets...); s != "" {
		msg += ": " + s
	}
	return &shoptoken.Error{
		Platform:   platform,
		Op:         op,
		StatusCode: r.StatusCode,
		Kind:       kind,
		Message:    msg,
		Err:        scrubError(jerr, secrets),
	}
}

// StatusError returns a *shoptoken.Error for a non-2xx answer that carries no platform envelope the
// caller recognised: Kind from shoptoken.KindForStatus, Message "HTTP <status> <text>: <snippet>".
// It returns nil for a 2xx answer.
func (r *Response) StatusError(platform, op string, secrets ...string) error {
	if is2xx(r.StatusCode) {
		return nil
	}
	msg := "HTTP " + strconv.Itoa(r.StatusCode)
	if t := http.StatusText(r.StatusCode); t != "" {
		msg += " " + t
	}
	if s := Snippet(r.Body, secrets...); s != "" {
		msg += ": " + s
	}
	return &shoptoken.Error{
		Platform:   platform,
		Op:         op,
		StatusCode: r.StatusCode,
		Kind:       shoptoken.KindForStatus(r.StatusCode),
		Message:    msg,
	}
}

// describeJSONError says in a few words what is wrong with a body json.Unmarshal rejected, and
// whether the body is not JSON at all (as opposed to JSON of the wrong shape).
func describeJSONError(err error) (what string, notJSON bool) {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &syn):
		if syn.Error() == "unexpected end of JSON input" {
			return "truncated JSON", true
		}
		return "malformed JSON", true
	case errors.As(err, &typ):
		if typ.Field != "" {
			return fmt.Sprintf("wrong JSON type for %s: %s, want %s", typ.Field, typ.Value, typ.Type), false
		}
		return fmt.Sprintf("wrong JSON type: %s, want %s", typ.Value, typ.Type), false
	}
	return "undecodable JSON", false
}

func isHTML(b []byte) bool {
	head := bytes.ToLower(b[:min(len(b), 512)])
	return bytes.Contains(head, []byte("<html")) || bytes.Contains(head, []byte("<!doctype html"))
}

func is2xx(status int) bool { return status >= 200 && status < 300 }
