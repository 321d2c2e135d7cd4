package vipauth

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/apiclient"
	"github.com/shoptoken/shoptoken/internal/jsonx"
	"github.com/shoptoken/shoptoken/internal/redact"
)

// Client calls vip.com APIs for one user. It puts the user's token in the access_token query
// parameter of each request, on the copy that is sent: the caller's URL, Response.Request and any
// *url.Error never carry it. When the answer is a rejection (see Rejected) and the token source
// can be invalidated (a *shoptoken.Cache, an App's user), it reports it: since a vip.com token
// cannot be refreshed, the call then fails with an error that matches shoptoken.ErrReauthorize
// (errors.Is sees through the *url.Error), unless another process has meanwhile stored a new
// token, in which case the request is sent once more with it. A source that cannot be invalidated
// (shoptoken.StaticSource) gets the rejection handed back as the answer.
//
// A Client is safe for concurrent use.
type Client struct {
	hc     http.Client
	tr     shoptoken.Transport
	openID string
}

// NewClient returns a Client for API calls made with src's tokens, usually the Cache of NewSource.
// src may be any shoptoken.TokenSource. c.ClientID is required, as for NewSource: a client
// belongs to one application. Config.HTTPClient supplies the timeouts, redirect policy and
// transport; nil means the SDK's default client (5 s to connect, 15 s to the response headers,
// 30 s in all). A nil src is an ErrBadRequest error.
func NewClient(c Config, src shoptoken.TokenSource) (*Client, error) {
	if err := needFields("new_client", shoptoken.ErrCredentials, "Config.ClientID", c.ClientID); err != nil {
		return nil, err
	}
	if err := apiclient.CheckSource(platform, src); err != nil {
		return nil, err
	}
	return newClient(c.HTTPClient, "", apiclient.Invalidator(src)), nil
}

// newClient makes the Client of one user over base (nil: the SDK's default client).
func newClient(base *http.Client, openID string, src shoptoken.Invalidator) *Client {
	cl := &Client{hc: apiclient.Base(base), openID: openID}
	cl.tr = shoptoken.Transport{
		Source:   src,
		Base:     cl.hc.Transport,
		Attach:   attach,
		Rejected: Rejected,
	}
	cl.hc.Transport = &cl.tr
	return cl
}

// attach puts the token in the access_token query parameter.
var attach = shoptoken.AttachQuery("access_token")

// Do sends req as http.Client.Do does, with the user's token on the copy that is sent.
func (cl *Client) Do(req *http.Request) (*http.Response, error) { return cl.hc.Do(req) }

// HTTPClient returns the *http.Client that Do uses, for a library that takes one; it behaves as Do
// does. Do not modify it.
func (cl *Client) HTTPClient() *http.Client { return &cl.hc }

// view is how cl prints: its user, never a token.
func (cl *Client) view() *redact.View {
	return redact.NewView("vipauth.Client").Plain("OpenID", "open_id", cl.openID)
}

// String describes cl without a secret.
func (cl *Client) String() string { return cl.view().String() }

// GoString is used by %#v; it prints like String.
func (cl *Client) GoString() string { return cl.String() }

// Format prints the redacted form for every verb.
func (cl *Client) Format(f fmt.State, verb rune) { cl.view().Format(f, verb) }

// LogValue implements slog.LogValuer without a secret.
func (cl *Client) LogValue() slog.Value { return cl.view().LogValue() }

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
