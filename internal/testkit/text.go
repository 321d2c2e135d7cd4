package testkit

import (
	"strings"
	"testing"
	"unicode"
)

// HostileMessage returns a platform message made to break logs and terminals: a line break
// followed by a forged log line, ANSI escape sequences, a bidirectional override, and 600 KB of
// text in all.
func HostileMessage() string {
	return "refused\nlevel=ERROR msg=\"forged line\"\r\n\x1b[31mred\x1b[0m \u202Eevil\u202C " + strings.Repeat("长", 200_000)
}

// PrintableLine fails the test unless s is one line without control characters or bidirectional
// overrides, of at most maxBytes bytes.
func PrintableLine(tb testing.TB, what, s string, maxBytes int) {
	tb.Helper()
	if len(s) > maxBytes {
		tb.Errorf("%s is %d bytes long, want at most %d", what, len(s), maxBytes)
	}
	if i := strings.IndexFunc(s, func(r rune) bool {
		return unicode.IsControl(r) || r == '\u202E' || r == '\u202C' || r == '\u2028' || r == '\u2029'
	}); i >= 0 {
		tb.Errorf("%s holds control character %U at byte %d: %q", what, []rune(s[i:])[0], i, clip(s))
	}
}
