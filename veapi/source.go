package veapi

import (
	"time"

	"github.com/shoptoken/shoptoken"
)

// DefaultTokenLifetime is the access token's lifetime when an answer gives none that can be
// believed (see the package documentation): veapi documents about 90 days ("唯品会通常是90天",
// expires_in 7775999).
const DefaultTokenLifetime = 90 * 24 * time.Hour

// Defaults NewSource gives the Cache; options passed to NewSource come after them and win.
const (
	// DefaultEarlyRefresh starts the planned refresh a week before the access token (about 90 days)
	// or the grant expires: a week leaves room for retries through a platform outage and for a
	// person to act if the chain breaks.
	DefaultEarlyRefresh = 7 * 24 * time.Hour
	// DefaultGrantWarning emits shoptoken.EventGrantExpiring five days before refresh_expires_time.
	// It is shorter than DefaultEarlyRefresh so that, if a refresh does extend the grant, the planned
	// refresh (six to eight days ahead, jittered) gets there first and nobody is alerted for nothing.
	DefaultGrantWarning = 5 * 24 * time.Hour
	// DefaultMinInterval spaces the refreshes of one chain by at least 15 seconds: every refresh
	// rotates the chain, and each rotation is a chance to lose it, so no caller loop may rotate it
	// more often. It stays below the Cache's 30-second refresh timeout so that a refresh that has to
	// wait still runs.
	DefaultMinInterval = 15 * time.Second
)

// NewSource returns a Cache that keeps a veapi authorization alive: it refreshes the access token a
// week before it expires (and before the grant's refresh_expires_time), shares one refresh among
// all callers, and with a Store saves every rotated refresh token before anyone uses the new access
// token.
//
// The chain must start somewhere: pass shoptoken.WithToken with the authorization you hold (at
// least its RefreshToken; with AccessToken and Expiry too, no call is made until the planned
// refresh), or shoptoken.WithStore with a store that already holds the token. With neither, Token
// returns an ErrReauthorize error ("no refresh token: authorize the shop first") without calling
// veapi. A token in the store wins over WithToken's, since it may be a later rotation.
//
// Always give a Store in production: without one, a rotated refresh token lives only in this
// process, and a restart loses the chain.
//
// The defaults are DefaultEarlyRefresh, DefaultGrantWarning, DefaultMinInterval, the name "veapi"
// and Config.Logger as the Cache's logger; every option given here overrides them.
func NewSource(c Config, opts ...shoptoken.Option) (*shoptoken.Cache, error) {
	if err := c.validate("new_source"); err != nil {
		return nil, err
	}
	return shoptoken.NewCache(newRefresher(c), append(defaults(c), opts...)...)
}

func defaults(c Config) []shoptoken.Option {
	d := []shoptoken.Option{
		shoptoken.WithEarlyRefresh(DefaultEarlyRefresh),
		shoptoken.WithGrantWarning(DefaultGrantWarning),
		shoptoken.WithMinInterval(DefaultMinInterval),
		shoptoken.WithName(platform),
	}
	if c.Logger != nil {
		d = append(d, shoptoken.WithLogger(c.Logger))
	}
	return d
}
