package veapi

import (
	"encoding/json"
	"net/http"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/httpx"
)

// NewClient returns an *http.Client for veapi API calls made with src's token: it puts the access
// token in the sessionkey query parameter of every request, and when veapi answers that the
// sessionkey is invalid or expired (HTTP 401, or an error answer whose message says so) it calls
// src.Invalidate, so that any number of such answers cause one refresh, and sends the request once
// more with the new token. Other parameters (vekey, the API's own) are the caller's to add.
//
// base supplies the timeouts and transport; nil means a client with the SDK's timeouts. A rejected
// request is replayed only if its body can be (http.NewRequest sets GetBody for the usual body
// types). The returned client is safe for concurrent use.
func NewClient(src *shoptoken.Cache, base *http.Client) *http.Client {
	var hc http.Client
	if base != nil {
		hc = *base
	} else {
		hc = *httpx.DefaultHTTPClient()
	}
	hc.Transport = &shoptoken.Transport{
		Source:   src,
		Base:     hc.Transport,
		Attach:   shoptoken.AttachQuery("sessionkey"),
		Rejected: rejected,
	}
	return &hc
}

// peekLimit is how much of an API answer is read to look for a rejection.
const peekLimit = 64 << 10

// rejected reports whether an API answer says the sessionkey was not accepted.
func rejected(resp *http.Response) bool {
	if resp.StatusCode == http.StatusUnauthorized {
		return true
	}
	head, _ := shoptoken.PeekBody(resp, peekLimit)
	return apiRejected(head)
}

// apiRejected reports whether the start of an API answer is a veapi error envelope whose message
// says the sessionkey was not accepted. The codes are not used: the platform's table is unknown.
func apiRejected(head []byte) bool {
	var env envelope
	if json.Unmarshal(head, &env) != nil {
		return false
	}
	code, ok := errorCode(env.Error)
	return ok && code != "0" && sessionRejected(scalar(env.Msg))
}
