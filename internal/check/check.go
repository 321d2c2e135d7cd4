// Package check validates what callers hand the SDK (Config fields, codes, tokens) before anything
// is sent, with one rule for every provider, and names what is wrong in a *shoptoken.Error.
package check

import (
	"strings"
	"unicode"

	"github.com/shoptoken/shoptoken"
)

// Blank reports whether s holds nothing that could be a credential, an id or a code: it is empty,
// or made only of white space (" ", "\t\n", U+3000 ideographic space, U+00A0), control characters
// or invisible format characters (U+200B zero width space, U+FEFF). Sending such a value only
// earns a platform error later, or worse, a request that looks valid in a log.
func Blank(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool {
		return !unicode.IsSpace(r) && !unicode.IsControl(r) && !unicode.Is(unicode.Cf, r)
	}) < 0
}

// Required returns a *shoptoken.Error of the given kind, platform and op naming the first of the
// name, value pairs whose value is Blank ("Config.ClientID is required", "... is required: it
// holds only white space"), or nil when every value is set. The value itself is never shown: it
// may be a secret.
func Required(platform, op string, kind error, pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		name, value := pairs[i], pairs[i+1]
		if !Blank(value) {
			continue
		}
		msg := name + " is required"
		if value != "" {
			msg += ": it holds only white space"
		}
		return &shoptoken.Error{Platform: platform, Op: op, Kind: kind, Message: msg}
	}
	return nil
}
