// Package phrase finds words in platform messages. The platforms' error code tables are
// incomplete or unknown, so providers classify many answers by their wording ("频繁", "invalid
// client"); this is the one matcher they share.
package phrase

import "strings"

// Any reports whether s contains any of phrases. Matching is exact: callers lower-case or
// otherwise normalise s first, and write phrases in that form.
func Any(s string, phrases ...string) bool {
	for _, p := range phrases {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}
