package youzan

import "github.com/shoptoken/shoptoken"

// APIPolicy returns how the Youzan gateway takes a token and rejects one, for an HTTP client other
// than Client (package restyauth for resty): the token goes in the access_token query parameter,
// and an answer carrying 4201, 4202 or 4203 in any envelope Call understands is a rejection. They
// are the rules Client.Do applies, the same functions. Nothing else is attached: a Youzan API
// request carries no secret besides the token.
//
// A rejection is recognised whatever the HTTP status, since the gateway answers errors with 200.
// The 4101 back-off and the error mapping of Call are not part of it: the answer comes back as it
// is. APIPolicy fails with ErrBadRequest for a Config NewClient would refuse.
func APIPolicy(c Config) (shoptoken.Policy, error) {
	if err := c.check(opPolicy); err != nil {
		return shoptoken.Policy{}, err
	}
	return shoptoken.Policy{Attach: attachToken, Rejected: rejectedAnswer}, nil
}

// opPolicy is the Op of APIPolicy's errors.
const opPolicy = "api_policy"
