package veapi

import "github.com/shoptoken/shoptoken"

// APIPolicy returns how veapi's APIs take a token and reject one, for an HTTP client other than
// Client (package restyauth for resty): the access token goes in the sessionkey query parameter
// and c.VEKey in vekey, both on the copy of the request that is sent (so put neither on the
// request yourself: a URL is printed whole in logs and errors), and a rejection is HTTP 401 or an
// error answer whose message says the sessionkey is invalid or expired. The vekey is in Secrets.
// They are the rules Client applies, the same functions.
//
// Client's RejectedAgainWindow is not part of the policy, since it is kept per shop by a Client:
// with the policy alone, a token an API refuses right after the rotation the previous refusal
// caused is rotated again on the next rejection, at most once per the Cache's minimum interval
// (DefaultMinInterval). APIPolicy checks c as NewClient does.
func APIPolicy(c Config) (shoptoken.Policy, error) {
	if err := c.validate("api_policy"); err != nil {
		return shoptoken.Policy{}, err
	}
	st := newState(c)
	return shoptoken.Policy{Attach: st.attach, Rejected: rejected, Secrets: st.secrets}, nil
}
