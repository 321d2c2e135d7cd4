package veapi

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/defaultclient"
)

// NewClient returns an *http.Client for veapi API calls made with src's token. Every request it
// sends carries the access token as the sessionkey query parameter and c.VEKey as vekey, both
// added to the copy of the request that is sent: the caller's URL, Response.Request and any
// *url.Error carry neither (Go's http.Client prints the caller's URL whole, so a vekey the caller
// put there would end up in logs). Other parameters are the caller's to add.
//
// When veapi answers that the sessionkey is invalid or expired (HTTP 401, or an error answer whose
// message says so), the client calls src.Invalidate, so that any number of such answers cause one
// refresh, and sends the request once more with the new token. If that retry is refused too, the
// API refuses for a reason a new token does not fix, and for RejectedAgainWindow the same refusal
// is handed back without another rotation.
//
// c is checked as NewSource checks it (VEKey is required). base supplies the timeouts and
// transport; nil means a client with the SDK's timeouts. A rejected request is replayed only if
// its body can be (http.NewRequest sets GetBody for the usual body types). The returned client is
// safe for concurrent use.
func NewClient(c Config, src *shoptoken.Cache, base *http.Client) (*http.Client, error) {
	if err := c.validate("new_client"); err != nil {
		return nil, err
	}
	if src == nil {
		return nil, &shoptoken.Error{Platform: platform, Op: "new_client", Kind: shoptoken.ErrBadRequest,
			Message: "NewClient: nil source"}
	}
	var hc http.Client
	if base != nil {
		hc = *base
	} else {
		hc = *defaultclient.Shared()
	}
	session := shoptoken.AttachQuery("sessionkey")
	g := &guard{src: src}
	hc.Transport = &shoptoken.Transport{
		Source: g,
		Base:   hc.Transport,
		Attach: func(r *http.Request, tok *shoptoken.Token) {
			session(r, tok)
			q := r.URL.Query()
			q.Set("vekey", c.VEKey)
			r.URL.RawQuery = q.Encode()
		},
		Rejected: rejected,
		Settled:  g.settled,
		Secrets:  []string{c.VEKey},
	}
	return &hc, nil
}

// RejectedAgainWindow is how long a client does not rotate again for a token that an API refused
// right after the rotation the previous refusal caused. Such an API refuses for a reason a new
// token does not fix (a permission, a shop setting), and every rotation of the refresh token is a
// chance to lose the chain: within the window the request fails with the API's own refusal and no
// refresh. After it, a refusal rotates once more. Each process keeps its own window.
const RejectedAgainWindow = 10 * time.Minute

// guard is the client's Invalidator: the Cache, minus rotations for a token refused right after
// the rotation that produced it.
type guard struct {
	src *shoptoken.Cache

	mu      sync.Mutex
	refused string    // access token refused by the retry right after the rotation
	at      time.Time // when
}

func (g *guard) Token(ctx context.Context) (*shoptoken.Token, error) { return g.src.Token(ctx) }

func (g *guard) Invalidate(ctx context.Context, rejected *shoptoken.Token) (*shoptoken.Token, error) {
	g.mu.Lock()
	blocked := rejected != nil && g.refused == rejected.AccessToken && time.Since(g.at) < RejectedAgainWindow
	g.mu.Unlock()
	if blocked {
		// No rotation, but another process may have one in the store: that costs no platform
		// call. Otherwise the Transport hands the caller the API's refusal.
		if cur := g.src.Reload(ctx); cur != nil && cur.AccessToken != rejected.AccessToken && cur.Valid() {
			return cur, nil
		}
		return rejected, nil
	}
	return g.src.Invalidate(ctx, rejected)
}

// settled is the Transport's Settled hook: it notes the token of a retry that was refused right
// after the rotation the first refusal caused.
func (g *guard) settled(_ *http.Request, resp *http.Response, sent []*shoptoken.Token, rejected bool) (*http.Response, error) {
	if rejected && len(sent) == 2 && sent[0].AccessToken != sent[1].AccessToken {
		g.mu.Lock()
		g.refused, g.at = sent[1].AccessToken, time.Now()
		g.mu.Unlock()
	}
	return resp, nil
}

// peekLimit is how much of an API answer is read to look for a rejection. A rejection is a short
// error envelope; a longer answer is a real one, and every API call pays for this look.
const peekLimit = 4 << 10

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
