package redact

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
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

// normParam lower-cases name and drops '_' and '-'.
func normParam(name string) string {
	if !strings.ContainsAny(name, "_-ABCDEFGHIJKLMNOPQRSTUVWXYZ") {
		return name
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r == '_' || r == '-':
			return -1
		case r >= 'A' && r <= 'Z':
			return r + ('a' - 'A')
		}
		return r
	}, name)
}

// URL returns raw with secret query parameters and any userinfo password redacted. A string that
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
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "…")
		}
	}
	if u.RawQuery != "" {
		q, err := url.ParseQuery(u.RawQuery)
		if err != nil {
			u.RawQuery = "…"
		} else {
			u.RawQuery = encodeReadable(q)
		}
	}
	u.Fragment = ""
	return u.String()
}

// Known replaces every occurrence of each secret in s by its redacted form, also where the secret
// is written URL-escaped (query or path) or JSON-escaped (slashes escaped or not, as PHP's
// json_encode writes them), each spelling shortened as written. Secrets shorter than four bytes are
// left alone: they would match ordinary text. It is the last line of defence for free text (an
// error message or a body snippet) that might echo a secret the caller knows about.
func Known(s string, secrets ...string) string {
	for _, sec := range secrets {
		if len(sec) < 4 {
			continue
		}
		for _, v := range spellings(sec) {
			if strings.Contains(s, v) {
				s = strings.ReplaceAll(s, v, Secret(v))
			}
		}
	}
	return s
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
				b.WriteString(Secret(v))
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
