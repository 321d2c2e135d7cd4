package lifetime

import "time"

// Horizon is the furthest ahead of an answer that an expiry is believed: ten years. The longest
// lifetime any of the platforms documents, vv-tool's 3000 days, fits inside it; a time within it
// of any sane clock is far from year 9999.
const Horizon = 10 * 365 * 24 * time.Hour

// Plausible reports whether t can end the life of a token or grant that an answer received at
// now describes: after now, and at most Horizon later.
func Plausible(t, now time.Time) bool {
	return t.After(now) && !t.After(now.Add(Horizon))
}

// Seconds converts a lifetime given in seconds; ok is false unless 0 < n <= Horizon, so the
// result never overflows and never reaches past the horizon.
func Seconds(n int64) (d time.Duration, ok bool) {
	if n <= 0 || n > int64(Horizon/time.Second) {
		return 0, false
	}
	return time.Duration(n) * time.Second, true
}

// Millis converts a Unix time in milliseconds; ok is false unless it falls in years 1 to 9999
// (UTC), the times a Token can be stored with.
func Millis(n int64) (t time.Time, ok bool) {
	if n < minMillis || n > maxMillis {
		return time.Time{}, false
	}
	return time.UnixMilli(n), true
}

// Storable reports whether t lies in years 1 to 9999 (UTC): a time outside them cannot be
// written as JSON, so a token that held one could not be persisted.
func Storable(t time.Time) bool {
	y := t.UTC().Year()
	return y >= 1 && y <= 9999
}

// The first and last milliseconds of years 1 to 9999, UTC.
var (
	minMillis = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	maxMillis = time.Date(9999, 12, 31, 23, 59, 59, 999_000_000, time.UTC).UnixMilli()
)
