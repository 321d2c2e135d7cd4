package vipauth

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/defaultclient"
	"github.com/shoptoken/shoptoken/internal/jsonx"
)

// DefaultGrantWarning is how long before a token lapses NewSource emits
// shoptoken.EventGrantExpiring: three days, time enough to ask the user to authorize again.
const DefaultGrantWarning = 72 * time.Hour

// reauthorizeMessage is the refresher's answer, whatever the reason it was asked.
const reauthorizeMessage = "vip.com tokens cannot be refreshed: ask the user to authorize again"

// NewSource returns a Cache that serves a vip.com token until it expires or is rejected, and
// then reports shoptoken.ErrReauthorize: vip.com issues no refresh token, so only the user
// authorizing again (AuthCodeURL, Exchange, then Cache.Set) brings a new one.
//
// The token comes from shoptoken.WithToken (e.g. the result of Exchange) or from a Store
// (shoptoken.WithStore). With neither, the first Token call returns ErrReauthorize. With a Store,
// every process sharing the key picks up the token another process Set after a new
// authorization, instead of reporting ErrReauthorize.
//
// Defaults, which options given here override: no refresh ahead (shoptoken.WithEarlyRefresh(0):
// there is nothing to refresh), no minimum interval between refresh attempts (none reaches
// vip.com), the name "vipauth" in logs and events, Config.Logger as the Cache's logger, and
// shoptoken.EventGrantExpiring DefaultGrantWarning (3 days) before the token expires. Receive it
// with shoptoken.WithEvents:
//
//	src, err := vipauth.NewSource(cfg, shoptoken.WithToken(tok),
//		shoptoken.WithEvents(func(e shoptoken.Event) {
//			if e.Kind == shoptoken.EventGrantExpiring {
//				go askUserToAuthorize(e.Token.Subject) // open_id; the token still works
//			}
//		}))
//
// EventGrantLost reports the moment the token is gone (expired or rejected).
//
// NewSource requires Config.ClientID: a source belongs to one application.
func NewSource(c Config, opts ...shoptoken.Option) (*shoptoken.Cache, error) {
	if err := needFields("source", shoptoken.ErrCredentials, "Config.ClientID", c.ClientID); err != nil {
		return nil, err
	}
	defaults := []shoptoken.Option{
		shoptoken.WithName(platform),
		shoptoken.WithEarlyRefresh(0),
		shoptoken.WithMinInterval(0),
		shoptoken.WithGrantWarning(DefaultGrantWarning),
	}
	if c.Logger != nil {
		defaults = append(defaults, shoptoken.WithLogger(c.Logger))
	}
	return shoptoken.NewCache(refresher{}, append(defaults, opts...)...)
}

// refresher is vip.com's Refresher: there is nothing to refresh with, so every call says that a
// person must authorize again. It makes no platform call.
type refresher struct{}

var _ shoptoken.Refresher = refresher{}

func (refresher) Refresh(context.Context, *shoptoken.Token, shoptoken.Reason) (*shoptoken.Token, error) {
	return nil, &shoptoken.Error{Platform: platform, Op: "refresh", Kind: shoptoken.ErrReauthorize, Message: reauthorizeMessage}
}

// NewClient returns an *http.Client for vip.com API calls: it puts src's token in the
// access_token query parameter of each request (on a copy: the caller's URL never carries it),
// and when the answer is a rejection (see Rejected) it reports it to src. Since a vip.com token
// cannot be refreshed, the call then fails with an error that matches shoptoken.ErrReauthorize
// (errors.Is sees through the *url.Error), unless another process has meanwhile stored a new
// token, in which case the request is sent once more with it.
//
// base supplies the timeouts, redirect policy and transport; nil means a client with the SDK's
// timeouts (5 s to connect, 15 s to the response headers, 30 s in all).
func NewClient(src *shoptoken.Cache, base *http.Client) *http.Client {
	hc := *defaultclient.Shared()
	if base != nil {
		hc = *base
	}
	hc.Transport = &shoptoken.Transport{
		Source:   src,
		Base:     hc.Transport,
		Attach:   shoptoken.AttachQuery("access_token"),
		Rejected: Rejected,
	}
	return &hc
}

// rejectionPeek is how much of an answer Rejected reads: a rejection is a small JSON object, so a
// longer answer is a real one and is not parsed.
const rejectionPeek = 4 << 10

// Rejected reports whether an API answer says the access token was rejected: HTTP 401, or a
// small JSON body with code 30111 ("access token invalid", whatever the HTTP status) or with
// msg "token revoked". It leaves the body readable.
func Rejected(resp *http.Response) bool {
	if resp.StatusCode == http.StatusUnauthorized {
		return true
	}
	head, err := shoptoken.PeekBody(resp, rejectionPeek)
	if err != nil || len(head) == 0 || len(head) >= rejectionPeek {
		return false
	}
	var env struct {
		Code *jsonx.Text `json:"code"`
		Msg  jsonx.Text  `json:"msg"`
	}
	if json.Unmarshal(head, &env) != nil {
		return false
	}
	return env.Code != nil && *env.Code == "30111" || env.Msg == "token revoked"
}
