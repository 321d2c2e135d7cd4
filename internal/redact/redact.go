package redact

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// prefixLen is how many leading characters of a secret may be shown. Four characters of a
// 32-40 character random token say nothing useful to an attacker but let an operator tell two
// tokens apart in a log.
const prefixLen = 4

// Secret returns s shown as at most its first four characters, "…" and its length in bytes,
// e.g. "2F5A…(40)". An empty secret is shown as "". Secrets of eight bytes or fewer show no prefix
// at all, because four characters would be half of them.
func Secret(s string) string {
	if s == "" {
		return ""
	}
	n := strconv.Itoa(len(s))
	if len(s) <= 2*prefixLen {
		return "…(" + n + ")"
	}
	// Cut on a rune boundary so a non-ASCII secret never prints half a character.
	cut, runes := 0, 0
	for i := range s {
		if runes == prefixLen {
			cut = i
			break
		}
		runes++
	}
	return s[:cut] + "…(" + n + ")"
}

// Shortened reports whether s is already a secret as Secret shows it: at most four characters,
// "…(", a length in digits and ")".
func Shortened(s string) bool {
	i := strings.Index(s, "…(")
	if i < 0 || utf8.RuneCountInString(s[:i]) > prefixLen || !strings.HasSuffix(s, ")") {
		return false
	}
	n := s[i+len("…(") : len(s)-1]
	_, err := strconv.Atoi(n)
	return err == nil && n != "" && n[0] != '-' && n[0] != '+'
}

// secretParams are the query and form parameter names whose values are secrets on the platforms
// shoptoken talks to, in normal form (see normParam): access_token, accessToken, Access-Token and
// ACCESSTOKEN are one name.
var secretParams = map[string]bool{
	"accesstoken":  true,
	"refreshtoken": true,
	"clientsecret": true,
	"secret":       true,
	"appsecret":    true,
	"vekey":        true,
	"code":         true,
	"authcode":     true,
	"password":     true,
	"sessionkey":   true,
	"token":        true,
	"idtoken":      true,
	"sign":         true,
	"accesskey":    true,
	"secretkey":    true,
}

// IsSecretParam reports whether a query, form or JSON field name carries a secret. Case, '_' and
// '-' do not matter, and any name that ends in "token" or "secret" counts (X-Access-Token,
// session_token, app_secret): better a preview too short than a secret shown.
func IsSecretParam(name string) bool {
	n := normParam(name)
	return secretParams[n] || strings.HasSuffix(n, "token") || strings.HasSuffix(n, "secret")
}

// normParam lower-cases name and drops '_' and '-'. Case is folded as encoding/json folds member
// names (bytes.EqualFold): "ACCESS_TOKEN", and even "acceſs_token" with a long s, reach an
// access_token field, so they are that name here too.
func normParam(name string) string {
	if !strings.ContainsFunc(name, func(r rune) bool {
		return r == '_' || r == '-' || r >= 'A' && r <= 'Z' || r >= utf8.RuneSelf
	}) {
		return name
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r == '_' || r == '-':
			return -1
		case r >= 'A' && r <= 'Z':
			return r + ('a' - 'A')
		case r >= utf8.RuneSelf:
			return foldRune(r)
		}
		return r
	}, name)
}

// foldRune returns the ASCII lower-case letter that r folds to under Unicode simple case folding
// (U+017F ſ to s, U+212A Kelvin sign to k), else unicode.ToLower(r).
func foldRune(r rune) rune {
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f >= 'a' && f <= 'z' {
			return f
		}
	}
	return unicode.ToLower(r)
}

// URL returns raw with secret query parameters and any userinfo password redacted, and without
// its fragment; the rest is kept as written, so URL of URL's result is that result. A string that
// does not parse as a URL is returned with everything after the first '?' removed, because it may
// still carry secrets.
func URL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if i := strings.IndexByte(raw, '?'); i >= 0 {
			return raw[:i] + "?…"
		}
		return raw
	}
	rest, _, _ := strings.Cut(raw, "#")
	head, query, hasQuery := strings.Cut(rest, "?")
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			v := *u
			v.User = url.UserPassword(u.User.Username(), "…")
			v.RawQuery, v.ForceQuery, v.Fragment, v.RawFragment = "", false, "", ""
			head = v.String()
		}
	}
	if !hasQuery {
		return head
	}
	if query != "" {
		q, err := url.ParseQuery(query)
		if err != nil {
			query = "…"
		} else {
			query = encodeReadable(q)
		}
	}
	return head + "?" + query
}

// Known replaces every occurrence of each secret in s by its redacted form, also where the secret
// is written URL-escaped (query or path) or JSON-escaped (slashes escaped or not, as PHP's
// json_encode writes them), each spelling shortened as written. The hex digits of an escape match
// in either case (%2B and %2b, \u003C and \u003c), as every decoder reads them. Secrets shorter
// than four bytes are left alone: they would match ordinary text. It is the last line of defence
// for free text (an error message or a body snippet) that might echo a secret the caller knows
// about.
func Known(s string, secrets ...string) string {
	return replaceSpellings(s, secrets, Secret)
}

// Remove deletes every spelling of each secret from s, as Known finds them. It is for text that
// must stay well formed, such as a URL in a Location header, where a shortened secret would not.
func Remove(s string, secrets ...string) string {
	return replaceSpellings(s, secrets, func(string) string { return "" })
}

// replaceSpellings replaces every spelling of each secret in s (see Known) with repl of the text
// it matched.
func replaceSpellings(s string, secrets []string, repl func(matched string) string) string {
	for _, sec := range secrets {
		if len(sec) < 4 {
			continue
		}
		for _, v := range spellings(sec) {
			s = replaceFold(s, v, repl)
		}
	}
	return s
}

// replaceFold replaces each occurrence of v in s, where the hex digits of v's escapes (%XX,
// \uXXXX) match in either case, with repl of the text matched.
func replaceFold(s, v string, repl func(string) string) string {
	fold := escapeDigits(v)
	if fold == nil {
		if !strings.Contains(s, v) {
			return s
		}
		var b strings.Builder
		for {
			i := strings.Index(s, v)
			if i < 0 {
				b.WriteString(s)
				return b.String()
			}
			b.WriteString(s[:i])
			b.WriteString(repl(v))
			s = s[i+len(v):]
		}
	}
	var b strings.Builder
	last, found := 0, false
	for i := 0; i+len(v) <= len(s); {
		if s[i] != v[0] || !matchFold(s[i:i+len(v)], v, fold) {
			i++
			continue
		}
		b.WriteString(s[last:i])
		b.WriteString(repl(s[i : i+len(v)]))
		i += len(v)
		last, found = i, true
	}
	if !found {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// escapeDigits marks the bytes of v that are hex digits of an escape (%XX or \uXXXX); nil when v
// has no escape.
func escapeDigits(v string) []bool {
	var fold []bool
	mark := func(from, n int) {
		if fold == nil {
			fold = make([]bool, len(v))
		}
		for j := from; j < from+n; j++ {
			fold[j] = true
		}
	}
	for i := 0; i < len(v); i++ {
		switch {
		case v[i] == '%' && i+2 < len(v) && isHex(v[i+1]) && isHex(v[i+2]):
			mark(i+1, 2)
			i += 2
		case v[i] == '\\' && i+5 < len(v) && v[i+1] == 'u' && isHex(v[i+2]) && isHex(v[i+3]) && isHex(v[i+4]) && isHex(v[i+5]):
			mark(i+2, 4)
			i += 5
		}
	}
	return fold
}

// matchFold reports whether a equals v, the bytes marked in fold compared without regard to case.
func matchFold(a, v string, fold []bool) bool {
	for j := 0; j < len(v); j++ {
		if a[j] != v[j] && !(fold[j] && lower(a[j]) == lower(v[j])) {
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// spellings returns sec as it may appear in a URL, a form or a JSON document. A secret made of
// URL-unreserved characters only (hex and most random tokens) has no other spelling.
func spellings(sec string) []string {
	out := []string{sec}
	if !strings.ContainsFunc(sec, func(r rune) bool { return !isUnreserved(r) }) {
		return out
	}
	add := func(v string) {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	add(url.QueryEscape(sec))
	add(url.PathEscape(sec))
	if b, err := json.Marshal(sec); err == nil {
		add(string(b[1 : len(b)-1]))
	}
	add(strings.ReplaceAll(sec, "/", `\/`))
	return out
}

// isUnreserved reports whether r is written as itself in a URL and in a JSON string.
func isUnreserved(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
		r == '-' || r == '.' || r == '_' || r == '~'
}

// encodeReadable encodes q like url.Values.Encode, sorted by key, but leaves redacted values
// unescaped, so a log shows "access_token=2F5A…(40)" rather than its percent-encoding.
func encodeReadable(q url.Values) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		for _, v := range q[k] {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(url.QueryEscape(k))
			b.WriteByte('=')
			if IsSecretParam(k) {
				if !Shortened(v) {
					v = Secret(v)
				}
				b.WriteString(v)
			} else {
				b.WriteString(url.QueryEscape(v))
			}
		}
	}
	return b.String()
}

// Format writes a redacted value for any fmt verb: str for every verb but %q (quoted str) and %#v
// (goStr), so that no verb reaches the raw fields. Types holding secrets call it from their
// fmt.Formatter.
func Format(f fmt.State, verb rune, str, goStr string) {
	switch {
	case verb == 'q':
		fmt.Fprintf(f, "%q", str)
	case verb == 'v' && f.Flag('#'):
		_, _ = f.Write([]byte(goStr))
	default:
		_, _ = f.Write([]byte(str))
	}
}

// Err returns err, or, when its text shows one of secrets (see Known), an error whose text has
// them shortened and whose chain is err's, so errors.Is and errors.As still see what err wraps.
// A *url.Error on top, which prints its whole URL, is rebuilt around the URL with secret query
// parameters and the secrets shortened, since errors.As hands it out as it is.
func Err(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	if ue, ok := err.(*url.Error); ok {
		err = &url.Error{Op: ue.Op, URL: Known(URL(ue.URL), secrets...), Err: Err(ue.Err, secrets...)}
	}
	msg := err.Error()
	if s := Known(msg, secrets...); s != msg {
		return &scrubbedError{msg: s, err: err}
	}
	return err
}

type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }
