package shoptoken

import (
	"strconv"
	"strings"
)

// Key names one token: the platform, the app on it (a public id: Youzan's and vip.com's client_id,
// vv-tool's Account, the name of a veapi account) and the shop or grant the token is for (Youzan's
// kdt_id, vip.com's open_id, a veapi shop; empty where the app has one token, as on vv-tool). Every
// process that shares a token builds the same Key, and so the same store key: String gives the one
// format, "platform/app/shop".
//
// In events and logs, Platform and App are low-cardinality labels (a metric may use them); Shop is
// not (there may be a million).
type Key struct {
	Platform string // "youzan", "vvtool", "vipauth", "veapi", or your own platform's name
	App      string
	Shop     string
}

// String returns the store key: "platform/app/shop", or "platform/app" without a shop. Characters
// that would make the key ambiguous or break a store's key syntax ('/', '%', '{', '}', spaces and
// control characters) are percent-escaped, so any App and Shop give a distinct key, and
// ParseKey(k.String()) == k.
func (k Key) String() string {
	var b strings.Builder
	b.Grow(len(k.Platform) + len(k.App) + len(k.Shop) + 2)
	escapeTo(&b, k.Platform)
	b.WriteByte('/')
	escapeTo(&b, k.App)
	if k.Shop != "" {
		b.WriteByte('/')
		escapeTo(&b, k.Shop)
	}
	return b.String()
}

// Namespace returns "platform/app": the part of the key that due indexes, leases and Keepers are
// partitioned by, so that two platforms or two apps can share one store and one prefix.
func (k Key) Namespace() string { return Key{Platform: k.Platform, App: k.App}.String() }

// Check reports a Key that cannot name a token: an empty Platform or App, or a Platform that is
// not a lower-case name (letters, digits, '-', '_').
func (k Key) Check() error {
	switch {
	case k.Platform == "":
		return keyError("the platform is empty")
	case strings.TrimFunc(k.Platform, func(r rune) bool {
		return r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_'
	}) != "":
		return keyError("the platform " + strconv.Quote(k.Platform) + " is not a lower-case name")
	case strings.TrimSpace(k.App) == "":
		return keyError("the app is empty")
	}
	return nil
}

// ParseKey reads a key that Key.String wrote.
func ParseKey(s string) (Key, error) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 {
		return Key{}, keyError("not platform/app[/shop]")
	}
	var k Key
	for i, p := range parts {
		v, ok := unescape(p)
		if !ok {
			return Key{}, keyError("bad escape")
		}
		switch i {
		case 0:
			k.Platform = v
		case 1:
			k.App = v
		case 2:
			if v == "" {
				return Key{}, keyError("empty shop")
			}
			k.Shop = v
		}
	}
	return k, k.Check()
}

func keyError(msg string) error {
	return &Error{Op: "key", Kind: ErrBadRequest, Message: msg}
}

func needsEscape(c byte) bool {
	return c <= ' ' || c == 0x7f || c == '/' || c == '%' || c == '{' || c == '}'
}

func escapeTo(b *strings.Builder, s string) {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		if c := s[i]; needsEscape(c) {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		} else {
			b.WriteByte(c)
		}
	}
}

func unescape(s string) (string, bool) {
	if !strings.Contains(s, "%") {
		return s, true
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", false
		}
		n, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
		if err != nil {
			return "", false
		}
		b.WriteByte(byte(n))
		i += 2
	}
	return b.String(), true
}
