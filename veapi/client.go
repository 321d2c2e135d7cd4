package veapi

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/apiclient"
	"github.com/shoptoken/shoptoken/internal/redact"
)

// Client calls veapi APIs for one shop. Every request it sends carries the access token as the
// sessionkey query parameter and Config.VEKey as vekey, both added to the copy of the request that
// is sent: the caller's URL, Response.Request and any *url.Error carry neither (Go's http.Client
// prints the caller's URL whole, so a vekey the caller put there would end up in logs). Other
// parameters are the caller's to add.
//
// When veapi answers that the sessionkey is invalid or expired (HTTP 401, or an error answer whose
// message says so) and the token source can be invalidated (a *shoptoken.Cache, an App's shop), the
// client has it refresh once, however many calls saw the rejection, and sends the request once more
// with the new token. If that retry is refused too, the API refuses for a reason a new token does
// not fix, and for RejectedAgainWindow the same refusal is handed back without another rotation.
// A source that cannot be invalidated (shoptoken.StaticSource) gets the refusal handed back at
// once. A rejected request is replayed only if its body can be (http.NewRequest sets GetBody for
// the usual body types).
//
// A Client is safe for concurrent use.
type Client struct {
	hc http.Client
	tr shoptoken.Transport
	g  guard
}

// NewClient returns a Client for API calls made with src's tokens, usually the Cache of
// NewSource. src may be any shoptoken.TokenSource; see Client for what a rejection does.
//
// c is checked as NewSource checks it (VEKey is required: every API call sends it).
// Config.HTTPClient supplies the timeouts and transport; nil means the SDK's default client (5 s
// to connect, 15 s to the response headers, 30 s in all). A nil src is an ErrBadRequest error.
// The Client keeps its own RejectedAgainWindow; the Clients of an App (App.Client) share theirs.
func NewClient(c Config, src shoptoken.TokenSource) (*Client, error) {
	if err := c.validate("new_client"); err != nil {
		return nil, err
	}
	if err := apiclient.CheckSource(platform, src); err != nil {
		return nil, err
	}
	var reload func(context.Context) *shoptoken.Token
	if cache, ok := src.(*shoptoken.Cache); ok {
		reload = cache.Reload
	}
	return newClient(newState(c), "", apiclient.Invalidator(src), reload), nil
}

// newClient makes the Client of one shop over st. reload, when not nil, reads the shop's current
// token from the store without a platform call.
func newClient(st *state, shop string, src shoptoken.Invalidator, reload func(context.Context) *shoptoken.Token) *Client {
	cl := &Client{hc: apiclient.Base(st.c.HTTPClient), g: guard{st: st, shop: shop, src: src, reload: reload}}
	cl.tr = shoptoken.Transport{
		Source:   &cl.g,
		Base:     cl.hc.Transport,
		Attach:   st.attach,
		Rejected: rejected,
		Settled:  cl.g.settled,
		Secrets:  st.secrets,
	}
	cl.hc.Transport = &cl.tr
	return cl
}

// Do sends req as http.Client.Do does, with the shop's token and the vekey on the copy that is
// sent.
func (cl *Client) Do(req *http.Request) (*http.Response, error) { return cl.hc.Do(req) }

// HTTPClient returns the *http.Client that Do uses, for a library that takes one; it behaves as Do
// does. Do not modify it.
func (cl *Client) HTTPClient() *http.Client { return &cl.hc }

// view is how cl prints: its shop, never the vekey or a token.
func (cl *Client) view() *redact.View {
	return redact.NewView("veapi.Client").Plain("Shop", "shop", cl.g.shop)
}

// String describes cl without a secret.
func (cl *Client) String() string { return cl.view().String() }

// GoString is used by %#v; it prints like String.
func (cl *Client) GoString() string { return cl.String() }

// Format prints the redacted form for every verb.
func (cl *Client) Format(f fmt.State, verb rune) { cl.view().Format(f, verb) }

// LogValue implements slog.LogValuer without a secret.
func (cl *Client) LogValue() slog.Value { return cl.view().LogValue() }

// attachTo puts the access token (sessionkey) and the vekey on the request that is sent.
func (s *state) attachTo(r *http.Request, tok *shoptoken.Token) {
	q := r.URL.Query()
	q.Set("sessionkey", tok.AccessToken)
	q.Set("vekey", s.c.VEKey)
	r.URL.RawQuery = q.Encode()
}

// RejectedAgainWindow is how long a client does not rotate again for a token that an API refused
// right after the rotation the previous refusal caused. Such an API refuses for a reason a new
// token does not fix (a permission, a shop setting), and every rotation of the refresh token is a
// chance to lose the chain: within the window the request fails with the API's own refusal and no
// refresh. After it, a refusal rotates once more. The window is kept per shop, by the Clients of
// one App together (a Client made per call keeps it too), and by each NewClient on its own; each
// process keeps its own.
const RejectedAgainWindow = 10 * time.Minute

// refusals remembers, per shop, the token an API refused right after the rotation that produced
// it (see RejectedAgainWindow).
type refusals struct {
	mu    sync.Mutex
	shops map[string]refusal
}

type refusal struct {
	access string
	at     time.Time
}

// pruneAt is how many shops refusals holds before it drops the entries whose window has passed.
const pruneAt = 1024

// blocked reports whether shop's token access was refused right after a rotation, within the
// window.
func (r *refusals) blocked(shop, access string, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	f, ok := r.shops[shop]
	return ok && f.access == access && now.Sub(f.at) < RejectedAgainWindow
}

// note records that shop's token access was refused right after a rotation.
func (r *refusals) note(shop, access string, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.shops == nil {
		r.shops = map[string]refusal{}
	}
	if len(r.shops) >= pruneAt {
		for s, f := range r.shops {
			if now.Sub(f.at) >= RejectedAgainWindow {
				delete(r.shops, s)
			}
		}
	}
	r.shops[shop] = refusal{access: access, at: now}
}

// len returns how many shops are remembered.
func (r *refusals) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.shops)
}

// guard is a Client's token source: the shop's, minus rotations for a token refused right after
// the rotation that produced it.
type guard struct {
	st     *state
	shop   string
	src    shoptoken.Invalidator
	reload func(context.Context) *shoptoken.Token // nil: no store to look in
}

// Token returns the shop's token from the source.
func (g *guard) Token(ctx context.Context) (*shoptoken.Token, error) { return g.src.Token(ctx) }

// Invalidate has the source refresh, unless rejected was refused right after the rotation that
// produced it (within RejectedAgainWindow): then it returns a newer stored token, or rejected.
func (g *guard) Invalidate(ctx context.Context, rejected *shoptoken.Token) (*shoptoken.Token, error) {
	if rejected != nil && g.st.guard.blocked(g.shop, rejected.AccessToken, g.st.c.now()) {
		// No rotation, but another process may have one in the store: that costs no platform
		// call. Otherwise the Transport hands the caller the API's refusal.
		if g.reload != nil {
			if cur := g.reload(ctx); cur != nil && cur.AccessToken != rejected.AccessToken && cur.Valid() {
				return cur, nil
			}
		}
		return rejected, nil
	}
	return g.src.Invalidate(ctx, rejected)
}

// settled is the Transport's Settled hook: it notes the token of a retry that was refused right
// after the rotation the first refusal caused.
func (g *guard) settled(_ *http.Request, resp *http.Response, sent []*shoptoken.Token, rejected bool) (*http.Response, error) {
	if rejected && len(sent) == 2 && sent[0].AccessToken != sent[1].AccessToken {
		g.st.guard.note(g.shop, sent[1].AccessToken, g.st.c.now())
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
