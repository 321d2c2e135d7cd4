package lifetime

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

var now = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

func TestPlausible(t *testing.T) {
	tests := []struct {
		name string
		t    time.Time
		want bool
	}{
		{"now", now, false},
		{"a second ago", now.Add(-time.Second), false},
		{"a second ahead", now.Add(time.Second), true},
		{"3000 days ahead (vv-tool)", now.Add(3000 * 24 * time.Hour), true},
		{"at the horizon", now.Add(Horizon), true},
		{"past the horizon", now.Add(Horizon + time.Second), false},
		{"year 10000", time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), false},
		{"zero", time.Time{}, false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, Plausible(tt.t, now), tt.name)
	}
}

func TestSeconds(t *testing.T) {
	tests := []struct {
		n    int64
		want time.Duration
		ok   bool
	}{
		{0, 0, false},
		{-5, 0, false},
		{1, time.Second, true},
		{7775999, 7775999 * time.Second, true},
		{int64(Horizon / time.Second), Horizon, true},
		{int64(Horizon/time.Second) + 1, 0, false},
		{math.MaxInt64, 0, false}, // would overflow a Duration
	}
	for _, tt := range tests {
		d, ok := Seconds(tt.n)
		assert.Equal(t, tt.ok, ok, "%d", tt.n)
		assert.Equal(t, tt.want, d, "%d", tt.n)
	}
}

func TestMillis(t *testing.T) {
	tests := []struct {
		n  int64
		ok bool
	}{
		{1681203493000, true}, // the seed's expires_time
		{0, true},
		{-62135596800000, true},  // 0001-01-01
		{-62135596800001, false}, // a millisecond before year 1
		{253402300799999, true},  // the last millisecond of 9999
		{253402300800000, false}, // year 10000
		{math.MaxInt64, false},
		{math.MinInt64, false},
	}
	for _, tt := range tests {
		got, ok := Millis(tt.n)
		assert.Equal(t, tt.ok, ok, "%d", tt.n)
		if ok {
			assert.True(t, Storable(got))
			_, err := json.Marshal(got)
			assert.NoError(t, err, "%d encodes", tt.n)
		} else {
			assert.True(t, got.IsZero())
		}
	}
}

func TestStorable(t *testing.T) {
	assert.True(t, Storable(now))
	assert.True(t, Storable(time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)))
	assert.False(t, Storable(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)))
	assert.False(t, Storable(time.Date(0, 12, 31, 23, 0, 0, 0, time.UTC)))
	// 0001-01-01 00:00 in China time is year 0 in UTC.
	assert.False(t, Storable(time.Date(1, 1, 1, 0, 0, 0, 0, time.FixedZone("CST", 8*3600))))
}
