package vvtool

import "github.com/shoptoken/shoptoken"

// APIPolicy returns how vv-tool's APIs take a token and reject one, for an HTTP client other than
// Client (package restyauth for resty): "Authorization: Bearer <token>", and Rejected. They are the
// rules NewClient's client applies, the same functions. The AccessKey is never sent with an API
// call, so the policy holds no secret.
//
// Client adds two things the policy cannot carry, since they depend on the Cache rather than the
// Config: it tells the Cache which tokens vv-tool accepted, and it explains the refusal to fetch
// again after a replacement token was rejected (IP binding). Without them the Cache of NewSource
// still refuses to fetch token after token, with the plainer ErrRateLimited or ErrPermission
// error; but it also refuses, for two minutes after the fetch, to replace a replacement token that
// did work before it was rejected (another server fetched meanwhile), since it was not told that it
// worked. APIPolicy fails, as NewClient does, for a Config NewSource would refuse.
func APIPolicy(c Config) (shoptoken.Policy, error) {
	if err := c.validate(); err != nil {
		return shoptoken.Policy{}, err
	}
	return shoptoken.Policy{Attach: shoptoken.AttachBearer, Rejected: Rejected}, nil
}
