package reauth

import (
	"context"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/check"
	"github.com/shoptoken/shoptoken/internal/httpx"
)

// Defaults and bounds of a Config.
const (
	// DefaultFlowTTL is how long a merchant has, by default, from opening a link to coming back
	// from the platform's page.
	DefaultFlowTTL = 15 * time.Minute
	// MaxLinkTTL is the longest a link may live: a link is a bearer credential that starts an
	// authorization of its shop, so it should not outlive the occasion it was sent for.
	MaxLinkTTL = 30 * 24 * time.Hour
	// MinSigningKey is the shortest SigningKey accepted, in bytes.
	MinSigningKey = 32
	// exchangeTimeout bounds the exchange and the save, which go on when the browser leaves: the
	// link is taken by then, and a code is single use.
	exchangeTimeout = 30 * time.Second
)

// Config configures a Handler. BaseURL and SigningKey are required.
type Config struct {
	// BaseURL is the absolute URL at which the Handler is mounted, as the merchants' browsers
	// reach it, e.g. "https://isv.example.com/reauth". Links are BaseURL+"/start?link=...", and
	// the platforms send the browser back to BaseURL+"/callback" (CallbackURL): register that
	// URL with each platform (vip.com's redirect URI, Youzan's callback address). It must be
	// https, or http to a loopback host (tests), without user information, query or fragment.
	BaseURL string
	// SigningKey signs the links and the browser's flow cookie (HMAC-SHA256): at least 32 bytes
	// (MinSigningKey) from a random source, the same in every process of the fleet, and kept
	// secret (whoever holds it can make links). Changing it invalidates the links sent so far.
	SigningKey []byte
	// Store remembers which links have authorized their shop and which platform answers were
	// handled, so that each works once. Give the Store every process of the fleet shares (the
	// one the Apps use: redisstore, sqlstore, filestore); each handled answer leaves a marker of
	// about 200 bytes under a key that no token can have ("shoptoken-reauth:..."). nil means a
	// shoptoken.MemoryStore of this process: enough for one process, but behind a load balancer
	// another process would accept a used link again.
	Store shoptoken.Store
	// FlowTTL is how long a merchant has from opening a link to coming back from the platform's
	// page (the flow cookie's life). 0 means DefaultFlowTTL (15 minutes).
	FlowTTL time.Duration
	// ClientIP returns the merchant browser's IP address, which vip.com wants with each code
	// (request_client_ip). nil means the host of r.RemoteAddr; behind a reverse proxy, read the
	// header your proxy sets.
	ClientIP func(r *http.Request) string
	// OnAuthorized is called, after the token is saved, for each shop a merchant authorized
	// again, with the shop's Key and new token (read-only; it is a secret: never log it whole).
	// It runs on the request's goroutine, before the merchant sees the page: keep it quick. nil:
	// nothing is called.
	OnAuthorized func(k shoptoken.Key, tok *shoptoken.Token)
	// OnFailed is called for each refused or failed request, with the Key the request was for
	// (the zero Key when the link or the cookie could not be read) and the reason: one of the
	// ErrX of this package (errors.Is), or the platform's error from the exchange. It is quick
	// to call, like OnAuthorized. nil: nothing is called.
	OnFailed func(k shoptoken.Key, err error)
	// Logger receives an Info record per authorized shop and a Warn record per refusal (the Key
	// and the reason; never a link, a code, a state or a token). nil: nothing is logged.
	Logger *slog.Logger
	// Clock is the time of link and flow expiry. nil means the system clock.
	Clock shoptoken.Clock
}

// Handler is the merchant re-authorization endpoint an ISV mounts in its web app (at BaseURL's
// path, with everything under it): GET {BaseURL}/start?link= checks a link from Link and sends
// the browser to the platform's authorization page; GET {BaseURL}/callback is where the platform
// sends it back, and where the code is exchanged and the token stored. Every outcome is a plain
// page in Chinese and English. See the package documentation. A Handler is safe for concurrent
// use.
type Handler struct {
	cfg      Config
	base     string // BaseURL without a trailing slash
	basePath string // its path, without a trailing slash
	callback string
	secure   bool
	apps     map[string]Authorizer // by Key.Namespace
	store    shoptoken.Store
	log      *slog.Logger
}

// New returns the Handler of cfg for apps, one Authorizer per app (VipAuth, YouzanTool). It fails
// with a shoptoken.ErrBadRequest error naming the fault when cfg lacks a field or breaks its rule,
// when no app is given, or when an app is nil, misconfigured or given twice.
func New(cfg Config, apps ...Authorizer) (*Handler, error) {
	bad := func(msg string) (*Handler, error) {
		return nil, &shoptoken.Error{Op: "reauth", Kind: shoptoken.ErrBadRequest, Message: msg}
	}
	if check.Blank(cfg.BaseURL) {
		return bad("Config.BaseURL is required")
	}
	if err := httpx.CheckBaseURL("", "reauth", "Config.BaseURL", cfg.BaseURL, httpx.HTTPLoopbackOnly); err != nil {
		return nil, err
	}
	if len(cfg.SigningKey) < MinSigningKey {
		return bad("Config.SigningKey must hold at least " + strconv.Itoa(MinSigningKey) + " bytes, got " + strconv.Itoa(len(cfg.SigningKey)))
	}
	if cfg.FlowTTL < 0 {
		return bad("Config.FlowTTL must not be negative, got " + cfg.FlowTTL.String())
	}
	if cfg.FlowTTL == 0 {
		cfg.FlowTTL = DefaultFlowTTL
	}
	if len(apps) == 0 {
		return bad("no Authorizer given")
	}
	cfg.SigningKey = append([]byte(nil), cfg.SigningKey...) // the caller's slice may change
	u, _ := url.Parse(cfg.BaseURL)                          // checked above
	h := &Handler{
		cfg:      cfg,
		base:     strings.TrimRight(cfg.BaseURL, "/"),
		basePath: strings.TrimRight(u.EscapedPath(), "/"),
		secure:   u.Scheme == "https",
		apps:     map[string]Authorizer{},
		store:    cfg.Store,
		log:      cfg.Logger,
	}
	h.callback = h.base + "/callback"
	for i, a := range apps {
		name := "Authorizer " + strconv.Itoa(i)
		if a == nil {
			return bad(name + " is nil")
		}
		if c, ok := a.(checker); ok {
			if err := c.check(); err != nil {
				return bad(name + ": " + err.Error())
			}
		}
		k := a.Key("")
		if err := k.Check(); err != nil {
			return bad(name + ": " + err.Error())
		}
		if _, dup := h.apps[k.Namespace()]; dup {
			return bad(name + ": " + k.Namespace() + " is given twice")
		}
		h.apps[k.Namespace()] = a
	}
	if h.store == nil {
		h.store = shoptoken.NewMemoryStore()
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	return h, nil
}

// CallbackURL returns BaseURL+"/callback", where the platforms send the merchant back: register
// it with each platform.
func (h *Handler) CallbackURL() string { return h.callback }

// Link returns the absolute URL to send the merchant of k's shop, to authorize the app again:
// signed with SigningKey, valid for ttl (at most MaxLinkTTL), for k alone (its platform, app and
// shop), and good for one authorization, across every process that shares the Store. Opening it
// changes nothing by itself, so a chat app's link preview cannot spend it; the merchant may open
// it again after refusing on the platform's page or after a failure, until it has authorized once
// or expires.
//
// It fails with a shoptoken.ErrBadRequest error when k is not a Key of one shop of an app this
// Handler serves, or ttl is not in (0, MaxLinkTTL].
func (h *Handler) Link(k shoptoken.Key, ttl time.Duration) (string, error) {
	bad := func(msg string) (string, error) {
		return "", &shoptoken.Error{Platform: k.Platform, Op: "reauth_link", Kind: shoptoken.ErrBadRequest, Message: msg}
	}
	if err := k.Check(); err != nil {
		return "", err
	}
	if check.Blank(k.Shop) {
		return bad("the Key names no shop")
	}
	if _, ok := h.app(k); !ok {
		return bad(k.Namespace() + " is not an app of this handler")
	}
	if ttl <= 0 || ttl > MaxLinkTTL {
		return bad("ttl must be in (0, " + MaxLinkTTL.String() + "], got " + ttl.String())
	}
	l := link{Key: k.String(), Expires: unix(h.now().Add(ttl)), ID: random(16)}
	return h.base + "/start?link=" + sign(h.cfg.SigningKey, labelLink, l), nil
}

// ServeHTTP serves GET (and HEAD) {BaseURL}/start and GET {BaseURL}/callback, and a plain "not
// found" page for any other path.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The callback takes GET only: a HEAD must not spend a code. The start writes nothing, so a
	// link checker's HEAD is harmless.
	var serve func(http.ResponseWriter, *http.Request)
	allow := "GET"
	switch r.URL.EscapedPath() {
	case h.basePath + "/start":
		serve, allow = h.start, "GET, HEAD"
	case h.basePath + "/callback":
		serve = h.finish
	default:
		render(w, outNotFound, shoptoken.Key{})
		return
	}
	if r.Method != http.MethodGet && !(r.Method == http.MethodHead && allow != "GET") {
		w.Header().Set("Allow", allow)
		render(w, outMethod, shoptoken.Key{})
		return
	}
	serve(w, r)
}

// start checks the link and sends the browser to the platform, with a fresh state whose digest
// (and the link) the flow cookie keeps. Nothing is written to the Store.
func (h *Handler) start(w http.ResponseWriter, r *http.Request) {
	const op = "reauth_start"
	var l link
	if !open(h.cfg.SigningKey, labelLink, r.URL.Query().Get("link"), &l) {
		h.refuse(w, outLinkInvalid, shoptoken.Key{}, refusal(shoptoken.Key{}, op, shoptoken.ErrBadRequest, ErrLinkInvalid))
		return
	}
	k, err := shoptoken.ParseKey(l.Key)
	if err != nil || l.ID == "" || k.Shop == "" {
		h.refuse(w, outLinkInvalid, shoptoken.Key{}, refusal(shoptoken.Key{}, op, shoptoken.ErrBadRequest, ErrLinkInvalid))
		return
	}
	now := h.now()
	if unix(now) >= l.Expires {
		h.refuse(w, outLinkExpired, k, refusal(k, op, shoptoken.ErrBadRequest, ErrLinkExpired))
		return
	}
	a, ok := h.app(k)
	if !ok {
		h.refuse(w, outUnknownApp, k, refusal(k, op, shoptoken.ErrBadRequest, ErrUnknownApp))
		return
	}
	switch _, _, err := h.store.Load(r.Context(), linkMarker(l.ID)); {
	case err == nil:
		h.refuse(w, outLinkUsed, k, refusal(k, op, shoptoken.ErrBadRequest, ErrLinkUsed))
		return
	case !errors.Is(err, shoptoken.ErrNotFound):
		h.refuse(w, outUnavailable, k, storeError(k, op, err))
		return
	}
	state, flowID := newState()
	authURL, err := a.AuthCodeURL(state, h.callback)
	if err != nil {
		h.refuse(w, outInternal, k, err)
		return
	}
	exp := now.Add(h.cfg.FlowTTL)
	http.SetCookie(w, &http.Cookie{
		Name:     cookiePrefix + flowID,
		Value:    sign(h.cfg.SigningKey, labelFlow, flow{Key: l.Key, LinkID: l.ID, LinkEnd: l.Expires, StateHash: digest(labelFlow, state), Expires: unix(exp)}),
		Path:     h.basePath + "/",
		MaxAge:   int(h.cfg.FlowTTL / time.Second),
		Secure:   h.secure,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode, // sent on the platform's top-level redirect back, not on cross-site subrequests
	})
	// The redirect has no body: http.Redirect's would repeat the URL, and with it the state.
	secureHeaders(w.Header())
	w.Header().Set("Location", authURL)
	w.WriteHeader(http.StatusFound)
}

// cookiePrefix starts the name of every flow cookie; the flow id (from the state) ends it, so
// that two flows in one browser (two shops, two tabs) do not overwrite each other's cookie.
const cookiePrefix = "shoptoken_reauth_"

// finish is the callback: the state against the flow cookie, the answer and the link each used
// once, then the exchange, the shop check, and the token saved through the App.
func (h *Handler) finish(w http.ResponseWriter, r *http.Request) {
	const op = "reauth_callback"
	q := r.URL.Query()
	state := q.Get("state")
	flowID, ok := stateFlow(state)
	var f flow
	var c *http.Cookie
	if ok {
		c, _ = r.Cookie(cookiePrefix + flowID)
	}
	if c == nil || !open(h.cfg.SigningKey, labelFlow, c.Value, &f) ||
		subtle.ConstantTimeCompare([]byte(digest(labelFlow, state)), []byte(f.StateHash)) != 1 {
		h.refuse(w, outStateMismatch, shoptoken.Key{}, refusal(shoptoken.Key{}, op, shoptoken.ErrBadRequest, ErrStateMismatch))
		return
	}
	clearCookie(w, c.Name, h.basePath+"/", h.secure) // whatever happens next, this flow is over
	k, err := shoptoken.ParseKey(f.Key)
	if err != nil {
		h.refuse(w, outStateMismatch, shoptoken.Key{}, refusal(shoptoken.Key{}, op, shoptoken.ErrBadRequest, ErrStateMismatch))
		return
	}
	now := h.now()
	if unix(now) >= f.Expires {
		h.refuse(w, outFlowExpired, k, refusal(k, op, shoptoken.ErrBadRequest, ErrFlowExpired))
		return
	}
	a, ok := h.app(k)
	if !ok {
		h.refuse(w, outUnknownApp, k, refusal(k, op, shoptoken.ErrBadRequest, ErrUnknownApp))
		return
	}
	// The answer is handled once: a double submit, a reload or a replay stops here, before the
	// code is sent anywhere.
	if err := h.mark(r.Context(), stateMarker(state), k, time.Unix(f.Expires, 0)); err != nil {
		if errors.Is(err, shoptoken.ErrConflict) {
			h.refuse(w, outStateUsed, k, refusal(k, op, shoptoken.ErrBadRequest, ErrStateUsed))
		} else {
			h.refuse(w, outUnavailable, k, storeError(k, op, err))
		}
		return
	}
	if e := q.Get("error"); e != "" {
		if e == "access_denied" {
			h.refuse(w, outDenied, k, refusal(k, op, shoptoken.ErrReauthorize, ErrDenied))
			return
		}
		h.refuse(w, outPlatform, k, &shoptoken.Error{Platform: k.Platform, Op: op, Kind: shoptoken.ErrBadResponse,
			Code: httpx.Line(e, httpx.MaxCode), Message: "the platform's authorization page answered with an error"})
		return
	}
	code := q.Get("code")
	if check.Blank(code) {
		h.refuse(w, outPlatform, k, &shoptoken.Error{Platform: k.Platform, Op: op, Kind: shoptoken.ErrBadResponse,
			Message: "the callback carries neither code nor error"})
		return
	}

	// From here the work goes on if the browser leaves: the link is taken, and the code is
	// single use. Any failure gives the link back (the merchant may open it again).
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), exchangeTimeout)
	defer cancel()
	lm := linkMarker(f.LinkID)
	if err := h.mark(ctx, lm, k, time.Unix(f.LinkEnd, 0)); err != nil {
		if errors.Is(err, shoptoken.ErrConflict) {
			h.refuse(w, outLinkUsed, k, refusal(k, op, shoptoken.ErrBadRequest, ErrLinkUsed))
		} else {
			h.refuse(w, outUnavailable, k, storeError(k, op, err))
		}
		return
	}
	tok, err := a.Exchange(ctx, code, h.callback, h.clientIP(r))
	if err == nil && tok == nil {
		err = &shoptoken.Error{Platform: k.Platform, Op: op, Kind: shoptoken.ErrBadResponse, Message: "the exchange returned no token"}
	}
	if err != nil {
		h.release(ctx, lm, k)
		out := outPlatform
		if errors.Is(err, shoptoken.ErrBadRequest) && !isPlatformError(err) {
			out = outInternal
		}
		h.refuse(w, out, k, err)
		return
	}
	if tok.Subject != "" && tok.Subject != k.Shop {
		h.release(ctx, lm, k)
		h.refuse(w, outOtherShop, k, refusal(k, op, shoptoken.ErrBadRequest, ErrOtherShop))
		return
	}
	if err := a.Set(ctx, k.Shop, tok); err != nil {
		h.release(ctx, lm, k)
		h.refuse(w, outUnavailable, k, err)
		return
	}
	h.log.LogAttrs(ctx, slog.LevelInfo, "reauth: shop authorized again",
		slog.String("platform", k.Platform), slog.String("app", k.App), slog.String("shop", k.Shop))
	if h.cfg.OnAuthorized != nil {
		h.cfg.OnAuthorized(k, tok)
	}
	render(w, outSuccess, k)
}

// isPlatformError reports whether err came from the platform's answer (it has a status or a
// platform code), rather than from a check made before anything was sent.
func isPlatformError(err error) bool {
	var e *shoptoken.Error
	return errors.As(err, &e) && (e.StatusCode != 0 || e.Code != "")
}

// refuse logs and reports a refusal and shows its page.
func (h *Handler) refuse(w http.ResponseWriter, o outcome, k shoptoken.Key, err error) {
	attrs := []slog.Attr{slog.String("reason", o.reason), slog.Int("status", o.status)}
	if k.Platform != "" {
		attrs = append(attrs, slog.String("platform", k.Platform), slog.String("app", k.App), slog.String("shop", k.Shop))
	}
	attrs = append(attrs, slog.String("err", err.Error()))
	h.log.LogAttrs(context.Background(), slog.LevelWarn, "reauth: refused", attrs...)
	if h.cfg.OnFailed != nil {
		h.cfg.OnFailed(k, err)
	}
	render(w, o, k)
}

// mark claims the marker key, once: ErrConflict if it was claimed before.
func (h *Handler) mark(ctx context.Context, key string, k shoptoken.Key, until time.Time) error {
	_, err := h.store.Save(ctx, key, &shoptoken.Token{
		Subject:  k.String(),
		IssuedAt: h.now(),
		Expiry:   until,
		Extra:    map[string]string{"reauth": "used"},
	}, 0)
	return err
}

// release gives a link back after a failure, so that the merchant may open it again. If the
// store cannot be reached, the link stays spent: the merchant needs a new one.
func (h *Handler) release(ctx context.Context, key string, k shoptoken.Key) {
	if err := h.store.Delete(ctx, key); err != nil {
		h.log.LogAttrs(ctx, slog.LevelWarn, "reauth: the link could not be given back after a failure",
			slog.String("platform", k.Platform), slog.String("app", k.App), slog.String("shop", k.Shop), slog.String("err", err.Error()))
	}
}

func storeError(k shoptoken.Key, op string, err error) error {
	return &shoptoken.Error{Platform: k.Platform, Op: op, Kind: shoptoken.ErrUnavailable, Message: "store", Err: err}
}

// Marker keys: a digest of the link id or the state, never the value itself, under a prefix no
// token's key can have (a Key's platform holds no ':').
func linkMarker(id string) string     { return "shoptoken-reauth:link:" + digest(labelLink, id) }
func stateMarker(state string) string { return "shoptoken-reauth:state:" + digest(labelFlow, state) }

func clearCookie(w http.ResponseWriter, name, path string, secure bool) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: path, MaxAge: -1, Secure: secure, HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

// app returns the Authorizer of k's platform and app.
func (h *Handler) app(k shoptoken.Key) (Authorizer, bool) {
	a, ok := h.apps[k.Namespace()]
	return a, ok
}

func (h *Handler) clientIP(r *http.Request) string {
	if h.cfg.ClientIP != nil {
		return h.cfg.ClientIP(r)
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (h *Handler) now() time.Time {
	if h.cfg.Clock != nil {
		return h.cfg.Clock.Now()
	}
	return time.Now()
}
