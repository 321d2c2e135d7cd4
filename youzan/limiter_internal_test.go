package youzan

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
)

// TestLimiter_prune: the back-off table keeps an entry per limited shop and API until a success;
// shops limited once and never called again are dropped once their quiet spell is over, when
// the table has grown, so a burst of 4101s across a fleet does not stay in memory. Live entries
// are never dropped.
func TestLimiter_prune(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := &limiter{now: func() time.Time { return now }}
	limited := &shoptoken.Error{Platform: platform, Op: opCall, Code: "4101", Kind: shoptoken.ErrRateLimited}
	wait := func(shop, api string) time.Duration {
		d, ok := RetryAfter(l.rateLimited(shop, api, limited))
		require.True(t, ok)
		return d
	}
	for i := range 3000 {
		assert.Equal(t, 3*time.Second, wait(strconv.Itoa(i), "youzan.trade.get"))
	}
	assert.Equal(t, 3000, l.size(), "live entries are kept")

	now = now.Add(3 * time.Second)
	assert.Equal(t, 6*time.Second, wait("7", "youzan.trade.get"), "shop 7 waited and was limited again")
	now = now.Add(quiet(0)) // everyone else's quiet spell is over; shop 7's (at 6 s) is not
	// The table is looked through when it has doubled since it last was (at 2 048 entries):
	// the entry after the 4 096th drops the stale ones.
	for i := range 1097 {
		assert.Equal(t, 3*time.Second, wait("new"+strconv.Itoa(i), "youzan.trade.get"))
	}
	assert.Equal(t, 1+1097, l.size(), "stale entries dropped: shop 7 and the new ones are left")
	assert.Equal(t, 12*time.Second, wait("7", "youzan.trade.get"), "shop 7 kept its place in the sequence")

	l.clear("7", "youzan.trade.get")
	l.clear("absent", "youzan.trade.get")
	assert.Equal(t, 1097, l.size())
	assert.Equal(t, 3*time.Second, wait("7", "youzan.trade.get"), "a success starts again")
	for i := range 1097 {
		l.clear("new"+strconv.Itoa(i), "youzan.trade.get")
	}
	l.clear("7", "youzan.trade.get")
	assert.Zero(t, l.size(), "nothing limited: the success path takes no lock again")

	plain := errors.New("not a *shoptoken.Error")
	assert.Same(t, plain, l.rateLimited("x", "y", plain), "an error of another type is passed on")
}
