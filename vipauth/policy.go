package vipauth

import "github.com/shoptoken/shoptoken"

// APIPolicy returns how vip.com's APIs take a user's token and reject one, for an HTTP client
// other than Client (package restyauth for resty): the token goes in the access_token query
// parameter, and Rejected says what a rejection is. They are the rules Client applies, the same
// functions. The client secret is never sent with an API call, so the policy holds no secret.
//
// A vip.com token cannot be refreshed: when one is rejected, invalidating it either adopts a token
// another process stored for the user (the request is then sent once more) or fails with
// ErrReauthorize. c.ClientID is required, as for NewClient: an ErrCredentials error names it.
func APIPolicy(c Config) (shoptoken.Policy, error) {
	if err := needFields("api_policy", shoptoken.ErrCredentials, "Config.ClientID", c.ClientID); err != nil {
		return shoptoken.Policy{}, err
	}
	return shoptoken.Policy{Attach: attach, Rejected: Rejected}, nil
}
