package httpx

import (
	"bytes"
	"encoding/json"
	"html"
	"net/url"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/shoptoken/shoptoken/internal/redact"
)

const (
	// snippetMax is the longest snippet, in characters.
	snippetMax = 120
	// snippetWindow is how much of a body Snippet looks at: enough to get past a page's head,
	// little enough that a 1 MiB body costs nothing worth noticing.
	snippetWindow = 64 << 10
)

var (
	// jsonUnescaper spells out the escapes that hide member and parameter names from the patterns
	// below.
	jsonUnescaper = strings.NewReplacer(`\u0026`, "&", `\u003d`, "=", `\u003D`, "=", `\u003c`, "<",
		`\u003C`, "<", `\u003e`, ">", `\u003E`, ">")
	// A JSON string member; the closing quote is optional so a value cut short is caught too. The
	// name is any JSON string: a decoder reads "access\u005ftoken" as access_token (see memberName).
	jsonMemberRe = regexp.MustCompile(`"((?:[^"\\]|\\.)*)"\s*:\s*"((?:[^"\\]|\\.)*)`)
	// A query or form parameter, also inside a URL quoted in a page or a JSON string. The name may
	// be percent-escaped (access%5Ftoken), as a query parser reads it (see paramName).
	queryParamRe = regexp.MustCompile(`([A-Za-z_%][A-Za-z0-9_%-]*)=([^&\s"'<>#;,]*)`)
	// A member of a JSON document carried inside a JSON string: its quotes are escaped.
	embeddedMemberRe = regexp.MustCompile(`\\"\s*:`)
	// An XML element's text.
	xmlElementRe = regexp.MustCompile(`<([A-Za-z_][A-Za-z0-9_]*)>([^<]*)`)
	// Markup that carries no readable text, then any tag.
	markupRe = regexp.MustCompile(`(?is)<script\b.*?</script\s*>|<style\b.*?</style\s*>|<!--.*?-->|<[^>]*>`)
)

// Snippet returns a short preview of body for messages and logs: one line of at most 120
// characters, secrets removed. Each of secrets is shortened by redact.Known wherever it appears
// (also URL- or JSON-escaped); the string values of JSON members, query or form parameters and XML
// elements whose names are secret (redact.IsSecretParam, e.g. access_token, refresh_token,
// client_secret, code, vekey) are shortened by redact.Secret. Names are read as a decoder reads
// them: a JSON member written "access\u005ftoken" or "ACCESS_TOKEN" and a parameter written
// access%5Ftoken count as access_token. Markup is reduced to its text, and
// whitespace and control characters to single spaces.
func Snippet(body []byte, secrets ...string) string {
	body = bytes.TrimPrefix(body, utf8BOM)
	if len(body) > snippetWindow {
		// Cut before any run of token-like characters that crosses the window's end, so that a
		// secret is never shown half cut (and so unrecognisable to redact.Known).
		cut := bytes.LastIndexFunc(body[:snippetWindow], func(r rune) bool { return !isTokenRune(r) })
		body = body[:cut+1]
	}
	s := string(body)
	// HTML-safe JSON encoders (Go's among them) write & < > = as \u0026 …: spelled out, the names
	// of secret parameters are seen below. The snippet is a preview, so showing them so is fine.
	s = jsonUnescaper.Replace(s)
	s = redact.Known(s, secrets...)
	s = redactValues(s, jsonMemberRe, memberName)
	s = redactValues(s, queryParamRe, paramName)
	if embeddedMemberRe.MatchString(s) {
		// A JSON document carried inside a JSON string: its members have escaped quotes, and the
		// outer member swallowed them. Unescape the quotes (values are shortened already) and look
		// again.
		s = strings.ReplaceAll(s, `\"`, `"`)
		s = redactValues(s, jsonMemberRe, memberName)
	}
	if t := strings.TrimLeftFunc(s, unicode.IsSpace); strings.HasPrefix(t, "<") {
		s = redactValues(s, xmlElementRe, nil)
		s = markupRe.ReplaceAllString(s, " ")
		s = html.UnescapeString(s)
		// Entities may have spelled out a secret, a JSON member or a parameter: look again.
		s = jsonUnescaper.Replace(s)
		s = redact.Known(s, secrets...)
		s = redactValues(s, jsonMemberRe, memberName)
		s = redactValues(s, queryParamRe, paramName)
	}
	return Line(s, snippetMax)
}

// redactValues shortens the second submatch of every match of re whose first submatch, as decode
// reads it (nil: as written), names a secret parameter. A value already shortened is left alone.
func redactValues(s string, re *regexp.Regexp, decode func(string) string) string {
	idx := re.FindAllStringSubmatchIndex(s, -1)
	if idx == nil {
		return s
	}
	var b strings.Builder
	last := 0
	for _, m := range idx {
		name, vs, ve := s[m[2]:m[3]], m[4], m[5]
		if decode != nil {
			name = decode(name)
		}
		val := s[vs:ve]
		if val == "" || !redact.IsSecretParam(name) || keepValue(name, val) || strings.Contains(val, "…(") {
			continue
		}
		b.WriteString(s[last:vs])
		b.WriteString(redact.Secret(val))
		last = ve
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// memberName reads a JSON member name as a decoder does: escapes such as \u005f spelled out. A
// name that was escaped twice (a JSON document inside a JSON string) is read twice. A name that
// does not decode is taken as written.
func memberName(raw string) string {
	name := raw
	for range 3 {
		if !strings.Contains(name, `\`) {
			break
		}
		var s string
		if json.Unmarshal([]byte(`"`+name+`"`), &s) != nil {
			break
		}
		name = s
	}
	return name
}

// paramName reads a query or form parameter name as a query parser does: access%5Ftoken is
// access_token.
func paramName(raw string) string {
	if !strings.Contains(raw, "%") {
		return raw
	}
	if name, err := url.QueryUnescape(raw); err == nil {
		return name
	}
	return raw
}

// keepValue spares a short number in a "code" member: that is a platform's status code
// ({"code":"4201"}), which the snippet exists to show, not an authorization code.
func keepValue(name, val string) bool {
	if !strings.EqualFold(name, "code") || len(val) > 8 {
		return false
	}
	for _, r := range val {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// isTokenRune reports whether r can be part of a token, key or code as the platforms issue them
// (also URL-, base64- or JSON-escaped).
func isTokenRune(r rune) bool {
	return r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
		strings.ContainsRune("-._~+/=%\\", r))
}

// scrubError is redact.Err for a list of secrets.
func scrubError(err error, secrets []string) error { return redact.Err(err, secrets...) }
