package vvtool

import (
	"context"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/shoptoken/shoptoken"
)

// DefaultMinInterval is the least time between two token fetches for one Cache (NewSource's
// default). A fetch kills the token every other server holds, and a jump in fetches makes
// vv-tool shorten tokens' validity, so fetches are rare on purpose.
const DefaultMinInterval = 60 * time.Second

// rejectWindow is how long a token fetched to replace a rejected one must work before a rejection
// of it may cause another fetch. A token that is rejected again this soon was not the problem: the
// IP binding or another server fetching is, and fetching again would only kill more tokens.
const rejectWindow = 2 * time.Minute

// NewSource returns a Cache that fetches vv-tool tokens for c. It validates c and names the field
// at fault. Its Key is {"vvtool", c.Account}: the Account has one token, so a fleet shares it with
// shoptoken.WithStore(store) and nothing else (vv-tool has no shops, so there is no NewApp).
//
// Options, set before opts so that opts win:
//   - WithEarlyRefresh(0): the token is never refreshed ahead of expiry or on a timer. A token is
//     fetched only when there is none, when it has expired, or when the platform rejected it and
//     it is still the current one (Cache.Invalidate is compare-and-refresh).
//   - WithMinInterval(DefaultMinInterval): at most one fetch per minute per Cache; with a Store
//     that is a Locker, fetches are also made under the fleet lease, so one server fetches for all.
//   - WithKey, and WithLogger(c.Logger) and WithClock(c.Clock) when they are set.
//
// Give every process that uses the Account the same Store (shoptoken.WithStore): each fetch kills
// the previous token on every server, so processes that do not share one take turns killing each
// other's tokens. A token works from one IP only, so servers that leave from different IPs cannot
// share an Account at all: give each egress IP its own Account.
//
// A token fetched because the previous one was rejected, and itself rejected within two minutes
// before any API call of this process (through NewClient) succeeded with it, is not replaced at
// once: the refresh fails with an ErrPermission error explaining vv-tool's IP binding (see
// NewClient). After two minutes the next rejection fetches again.
func NewSource(c Config, opts ...shoptoken.Option) (*shoptoken.Cache, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	defaults := []shoptoken.Option{
		shoptoken.WithEarlyRefresh(0),
		shoptoken.WithMinInterval(DefaultMinInterval),
		shoptoken.WithKey(c.key()),
	}
	if c.Logger != nil {
		defaults = append(defaults, shoptoken.WithLogger(c.Logger))
	}
	if c.Clock != nil {
		defaults = append(defaults, shoptoken.WithClock(c.Clock))
	}
	return shoptoken.NewCache(&refresher{f: c.newFetcher()}, append(defaults, opts...)...)
}

// refresher implements shoptoken.Refresher with one token fetch.
type refresher struct {
	f *fetcher

	// accepted is the access token of the last token a vv-tool API accepted in this process
	// (NewClient reports it): a replacement token that worked was not killed by the IP binding.
	accepted atomic.Pointer[string]
}

// accept records that the platform accepted tok.
func (r *refresher) accept(tok *shoptoken.Token) {
	if p := r.accepted.Load(); p == nil || *p != tok.AccessToken {
		s := tok.AccessToken
		r.accepted.Store(&s)
	}
}

// wasAccepted reports whether the platform accepted tok in this process.
func (r *refresher) wasAccepted(tok *shoptoken.Token) bool {
	p := r.accepted.Load()
	return p != nil && *p == tok.AccessToken
}

// Refresh fetches a new token, unless current is a replacement for a rejected token that was
// itself rejected within rejectWindow without having worked once in this process: that is the IP
// binding (or another fetcher) at work, and fetching again would only kill more tokens. A
// replacement that worked and is then rejected (it expired, or another server fetched) is
// replaced like any other.
func (r *refresher) Refresh(ctx context.Context, current *shoptoken.Token, why shoptoken.Reason) (*shoptoken.Token, error) {
	if why == shoptoken.ReasonRejected && current != nil &&
		current.Extra[ExtraFetchReason] == shoptoken.ReasonRejected.String() &&
		r.f.now().Sub(current.IssuedAt) < rejectWindow && !r.wasAccepted(current) {
		return nil, ipBindingError("token", current, r.f.now(), nil)
	}
	tok, err := r.f.fetch(ctx)
	if err != nil {
		return nil, err
	}
	tok.Extra[ExtraFetchReason] = why.String()
	return tok, nil
}

// ipBindingError explains why a freshly fetched token is rejected and why no other is fetched.
func ipBindingError(op string, tok *shoptoken.Token, now time.Time, cause error) error {
	var b strings.Builder
	b.WriteString("the platform rejected (身份凭证无效) the token fetched ")
	if !tok.IssuedAt.IsZero() {
		if age := now.Sub(tok.IssuedAt); age < time.Second {
			b.WriteString("just now ")
		} else {
			b.WriteString(age.Round(time.Second).String() + " ago ")
		}
	}
	by, from := tok.Extra[ExtraFetchedBy], tok.Extra[ExtraFetchedFrom]
	switch {
	case by != "" && from != "":
		b.WriteString("by host " + by + " (local address " + from + ")")
	case by != "":
		b.WriteString("by host " + by)
	case from != "":
		b.WriteString("from local address " + from)
	default:
		b.WriteString("by an unknown host")
	}
	if host, err := os.Hostname(); err == nil && host != "" && by != "" && host != by {
		b.WriteString("; this is host " + host)
	}
	b.WriteString(", and no other token is fetched now: vv-tool binds a token to the IP address that fetched it," +
		" so this request may leave from another IP than the fetch did (NAT, proxy, egress pool: fetch and call" +
		" through one address; servers behind different IPs cannot share one Account), or another process or server" +
		" with the same Account fetched a new token, which kills the previous one (give them all the same shoptoken.Store)")
	return &shoptoken.Error{Platform: platform, Op: op, Kind: shoptoken.ErrPermission, Message: b.String(), Err: cause}
}
