package httpx

import (
	"strings"
	"unicode"
	"unicode/utf8"
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
