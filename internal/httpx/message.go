package httpx

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/redact"
)

// Line returns s as one line of printable text of at most max characters: invalid UTF-8 becomes
// U+FFFD; control characters (newline, ESC and the rest of C0 and C1), line and paragraph
// separators and bidirectional overrides become spaces, so that text from a platform can neither
// start a forged log line nor drive a terminal; runs of white space become one space; and a longer
// text is cut, ending in "…". max < 1 means no limit.
func Line(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unsafeRune(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if max < 1 || utf8.RuneCountInString(s) <= max {
		return s
	}
	n := 0
	for i := range s {
		if n == max-1 {
			return s[:i] + "…"
		}
		n++
	}
	return s
}

// unsafeRune reports whether r must not reach a log line or a terminal as it is.
func unsafeRune(r rune) bool {
	switch {
	case unicode.IsControl(r), unicode.In(r, unicode.Zl, unicode.Zp):
		return true
	case r >= '\u202A' && r <= '\u202E', r >= '\u2066' && r <= '\u2069', r == '\u200E', r == '\u200F', r == '\u061C':
		return true // bidirectional embeddings, overrides, isolates and marks
	}
	return false
}

// Bounds of the platform text an error shows, in characters.
const (
	// MaxMessage bounds Error.Message.
	MaxMessage = 200
	// MaxCode bounds Error.Code and Error.RequestID, and short informative values.
	MaxCode = 64
)

// SetMessage puts msg, a platform's own words, into e: RawMessage gets it whole with secrets (see
// redact.Known) shortened, Message gets the same as one printable line of at most MaxMessage
// characters (see Line). It returns e. Every provider puts platform messages into errors through
// it, so that none can inject a log line, drive a terminal or make a 600 KB error.
func SetMessage(e *shoptoken.Error, msg string, secrets ...string) *shoptoken.Error {
	raw := redact.Known(msg, secrets...)
	e.RawMessage = raw
	e.Message = Line(raw, MaxMessage)
	return e
}

// Short returns a platform's code, request id or other short value made safe to show: secrets
// shortened, one printable line, at most MaxCode characters.
func Short(s string, secrets ...string) string {
	return Line(redact.Known(s, secrets...), MaxCode)
}
