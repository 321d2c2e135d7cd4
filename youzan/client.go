package youzan

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/httpx"
	"github.com/shoptoken/shoptoken/internal/jsonx"
	"github.com/shoptoken/shoptoken/internal/phrase"
	"github.com/shoptoken/shoptoken/internal/redact"
)

// Client calls Youzan APIs for one shop with tokens from a TokenSource. Get one from
// App.Client, which shares the App's state, or NewClient. It is safe for concurrent use.
type Client struct {
	app  *state
	src  shoptoken.TokenSource
	inv  shoptoken.Invalidator // src, when it can be told of a rejection; else nil
	shop string                // the shop whose 4101 back-off this Client keeps; "" for NewClient's
}

// String describes the Client by its Config, without its secrets.
func (cl *Client) String() string { return cl.view().String() }

// GoString is used by %#v; it redacts like String.
func (cl *Client) GoString() string { return cl.String() }

// Format prints the redacted form for every verb.
func (cl *Client) Format(f fmt.State, verb rune) { cl.view().Format(f, verb) }

// LogValue implements slog.LogValuer: the secret is redacted.
func (cl *Client) LogValue() slog.Value { return cl.view().LogValue() }

func (cl *Client) view() *redact.View {
	if cl == nil || cl.app == nil {
		return Config{}.view("youzan.Client")
	}
	return cl.app.cfg.view("youzan.Client").Plain("Shop", "shop", cl.shop)
}

// NewClient returns a Client that calls APIs on c.BaseURL with tokens from src: a Cache from
// NewSource or NewToolSource, an App's Source, a shoptoken.StaticSource, or any TokenSource.
// When src is a shoptoken.Invalidator (a Cache is), a token the gateway rejects is reported to it
// and the request sent once more with the new token; otherwise the rejection is returned.
//
// The Client keeps its own HTTP client and 4101 back-off. For many shops use App.Client or
// App.Call, which share both across the App. NewClient fails with ErrBadRequest, before anything
// is sent, for a Config NewSource would refuse or a nil src.
func NewClient(c Config, src shoptoken.TokenSource) (*Client, error) {
	if isNil(src) {
		return nil, configError(opCall, "NewClient was given no token source")
	}
	st, err := newState(c, opCall, false, true)
	if err != nil {
		return nil, err
	}
	inv, _ := src.(shoptoken.Invalidator)
	return &Client{app: st, src: src, inv: inv}, nil
}

// isNil reports whether src is nil or a nil pointer, func or map in an interface.
func isNil(src shoptoken.TokenSource) bool {
	if src == nil {
		return true
	}
	switch v := reflect.ValueOf(src); v.Kind() {
	case reflect.Pointer, reflect.Func, reflect.Map, reflect.Chan, reflect.Slice, reflect.Interface:
		return v.IsNil()
	}
	return false
}

// Do sends req with the token in its access_token query parameter (on a copy: req itself never
// carries it) and returns the gateway's answer as it is, for an API Call does not fit (a file
// upload, say). When the answer is a rejection of the token (4201, 4202 or 4203, in any envelope)
// and the source is an Invalidator, the source is told and req sent once more with the new token,
// its body replayed through Request.GetBody. Do reads nothing else in the answer: a 4101 or any
// other error comes back as the answer it is, without the back-off advice Call adds.
func (cl *Client) Do(req *http.Request) (*http.Response, error) {
	return cl.HTTPClient().Do(req)
}

// HTTPClient returns an *http.Client that sends every request as Do does, for a library that
// takes one. It uses Config.HTTPClient's transport, timeout and cookies (the SDK's default
// client when nil); a redirect to another host is followed without the token.
func (cl *Client) HTTPClient() *http.Client {
	hc := *cl.app.hc
	var src shoptoken.Invalidator = cl.inv
	if src == nil {
		src = keep{cl.src}
	}
	hc.Transport = &shoptoken.Transport{Source: src, Base: hc.Transport, Attach: attachToken, Rejected: rejectedAnswer}
	return &hc
}

// attachToken puts the token where the gateway reads it, the access_token query parameter.
var attachToken = shoptoken.AttachQuery("access_token")

// keep is a TokenSource that cannot be told of a rejection: Invalidate hands back the token
// rejected, so the Transport returns the gateway's own answer.
type keep struct{ shoptoken.TokenSource }

func (k keep) Invalidate(_ context.Context, rejected *shoptoken.Token) (*shoptoken.Token, error) {
	return rejected, nil
}

// peekLimit is how much of an answer rejectedAnswer reads: a gateway error is short.
const peekLimit = 4 << 10

// rejectedAnswer reports whether resp is the gateway's rejection of the token: 4201, 4202 or
// 4203 in any envelope Call understands. It reads at most 4 KiB and leaves the body readable.
func rejectedAnswer(resp *http.Response) bool {
	if resp.ContentLength > peekLimit {
		return false
	}
	head, err := shoptoken.PeekBody(resp, peekLimit+1)
	if err != nil || len(head) > peekLimit {
		return false
	}
	return parseCall(&httpx.Response{StatusCode: resp.StatusCode, Body: head}, nil).rejected != 0
}

// Call invokes API api at version (e.g. "youzan.trade.get", "4.0.2"; the docs' name
// "youzan.trade.get.4.0.2" is the two joined by a dot) with params as the JSON body, and
// decodes the answer's data into out. api must be lower-case dotted words ([a-z0-9_], the first
// starting with a letter) and version dotted numbers; anything else is an ErrBadRequest error
// before any request is sent.
//
// params may be nil (the body is then {}), a []byte or json.RawMessage holding a JSON object,
// or anything encoding/json encodes to one. out may be nil to discard the data, or any pointer
// encoding/json decodes into; it is left alone when the data is null.
//
// The token goes in the access_token query parameter only, as the gateway requires, and never
// into an error or a log. When the gateway rejects it (4201, 4202, 4203) and the source is an
// Invalidator, Call reports it (Invalidate: compare-and-refresh, so a burst of rejections costs
// one token call) and sends the same body once more with the new token; it never retries twice.
// A second rejection, or the first from a source that cannot be invalidated, is ErrTokenInvalid,
// or ErrReauthorize for 4201 after a fresh token (the grant is closed). Other errors are
// returned as they come: see the package documentation for the mapping, and RetryAfter for
// 4101. The request is not retried on other failures, because it may have had an effect.
func (cl *Client) Call(ctx context.Context, api, version string, params, out any) error {
	if cl == nil || cl.app == nil || isNil(cl.src) {
		return configError(opCall, "the Client has no token source (use NewClient or App.Client)")
	}
	return cl.app.do(ctx, cl.src, cl.inv, cl.shop, api, version, params, out)
}

// do is Call for src and shop, with st's HTTP client and back-off.
func (st *state) do(ctx context.Context, src shoptoken.TokenSource, inv shoptoken.Invalidator, shop, api, version string, params, out any) error {
	target, err := st.endpoint(api, version)
	if err != nil {
		return err
	}
	body, err := encodeParams(params)
	if err != nil {
		return err
	}
	tok, err := src.Token(ctx)
	if err != nil {
		return err
	}
	res := st.send(ctx, target, body, tok)
	if res.rejected == 0 {
		return st.finish(ctx, shop, api, res, out)
	}
	if inv == nil {
		return res.err // nothing to tell: the platform's own rejection, ErrTokenInvalid
	}
	// Rejected: compare-and-refresh, then one more try with whatever token is current now.
	st.log.LogAttrs(ctx, slog.LevelDebug, "youzan: token rejected; invalidating and retrying once",
		slog.String("shop", shop), slog.String("api", api), slog.Int("err_code", res.rejected), slog.String("trace_id", res.traceID))
	fresh, err := inv.Invalidate(ctx, tok)
	if err != nil {
		return err
	}
	if fresh == nil || fresh.AccessToken == tok.AccessToken {
		return res.err // no new token to try: the platform's own rejection, ErrTokenInvalid
	}
	res = st.send(ctx, target, body, fresh)
	if res.rejected != 0 {
		var e *shoptoken.Error
		if errors.As(res.err, &e) && res.rejected == 4201 {
			cp := *e
			cp.Kind = shoptoken.ErrReauthorize // a fresh token refused as invalid: the grant is closed
			return &cp
		}
		return res.err
	}
	return st.finish(ctx, shop, api, res, out)
}

// API names are lower-case dotted identifiers (youzan.trade.get, youzan.item.sku.update) and
// versions dotted numbers (4.0.2) [public]. Anything else (say "..", which made
// POST /api/../x?access_token=...) is refused before the token goes anywhere.
var (
	apiName    = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$`)
	apiVersion = regexp.MustCompile(`^[0-9]+(\.[0-9]+)*$`)
)

// Longest API name and version accepted: far above any the platform documents.
const (
	maxAPIName    = 128
	maxAPIVersion = 16
)

func (st *state) endpoint(api, version string) (string, error) {
	switch {
	case len(api) > maxAPIName || !apiName.MatchString(api):
		return "", configError(opCall, "invalid API name "+strconv.Quote(httpx.Short(api))+` (want lower-case dotted words, e.g. "youzan.trade.get")`)
	case len(version) > maxAPIVersion || !apiVersion.MatchString(version):
		return "", configError(opCall, "invalid API version "+strconv.Quote(httpx.Short(version))+` (want dotted numbers, e.g. "4.0.2")`)
	}
	base, err := st.cfg.base(opCall)
	if err != nil {
		return "", err
	}
	return base + "/api/" + api + "/" + version, nil
}

// encodeParams returns the JSON body: {} for nil.
func encodeParams(params any) ([]byte, error) {
	var b []byte
	switch p := params.(type) {
	case nil:
		return []byte("{}"), nil
	case json.RawMessage:
		b = p
	case []byte:
		b = p
	default:
		var err error
		if b, err = json.Marshal(p); err != nil {
			return nil, &shoptoken.Error{Platform: platform, Op: opCall, Kind: shoptoken.ErrBadRequest, Message: "encode params", Err: err}
		}
	}
	t := bytes.TrimSpace(b) // not a string: that would copy every request body
	switch {
	case len(t) == 0 || string(t) == "null":
		return []byte("{}"), nil
	case t[0] != '{' || !json.Valid(t):
		return nil, configError(opCall, "params must encode to a JSON object")
	}
	return b, nil
}

// result is one gateway answer, classified.
type result struct {
	data     json.RawMessage // success: what to decode into out
	traceID  string
	status   int
	err      error // failure
	rejected int   // 4201, 4202 or 4203 when the token was rejected
}

func (st *state) send(ctx context.Context, target string, body []byte, tok *shoptoken.Token) result {
	secrets := []string{tok.AccessToken}
	resp, err := st.call.Do(ctx, httpx.Request{
		Op:      opCall,
		Method:  "POST",
		URL:     target,
		Query:   url.Values{"access_token": {tok.AccessToken}},
		JSON:    body,
		Secrets: secrets,
	})
	if err != nil {
		return result{err: err}
	}
	return parseCall(resp, secrets)
}

// callAnswer holds every envelope the gateway is known to use.
type callAnswer struct {
	GwErrResp     json.RawMessage `json:"gw_err_resp"`
	ErrorResponse json.RawMessage `json:"error_response"`
	Response      json.RawMessage `json:"response"`
	TraceID       jsonx.String    `json:"trace_id"`
	Code          jsonx.String    `json:"code"`
	Success       jsonx.Bool      `json:"success"`
	Data          json.RawMessage `json:"data"`
	Message       jsonx.String    `json:"message"`
}

type gwErrResp struct {
	TraceID jsonx.String `json:"trace_id"`
	ErrCode jsonx.String `json:"err_code"`
	ErrMsg  jsonx.String `json:"err_msg"`
}

type legacyError struct {
	Code    jsonx.String `json:"code"`
	Msg     jsonx.String `json:"msg"`
	Message jsonx.String `json:"message"`
}

// parseCall classifies a gateway answer. Errors come with HTTP 200 [public].
func parseCall(resp *httpx.Response, secrets []string) result {
	var a callAnswer
	if err := resp.DecodeJSON(platform, opCall, &a, secrets...); err != nil {
		return result{err: withRequestID(err, traceID(resp.Body)), status: resp.StatusCode}
	}
	res := result{traceID: httpx.Short(string(a.TraceID), secrets...), status: resp.StatusCode}
	fail := func(code, msg string, kind error) result {
		if n, _ := strconv.Atoi(code); n >= 4201 && n <= 4203 {
			res.rejected = n
		}
		res.err = httpx.SetMessage(&shoptoken.Error{
			Platform:   platform,
			Op:         opCall,
			StatusCode: resp.StatusCode,
			Code:       httpx.Short(code, secrets...),
			RequestID:  res.traceID,
			Kind:       kind,
		}, msg, secrets...)
		return res
	}
	sub := func(raw json.RawMessage, v any) error {
		obj, ok := object(raw)
		if !ok {
			obj = raw
		}
		err := (&httpx.Response{StatusCode: resp.StatusCode, Body: obj}).DecodeJSON(platform, opCall, v, secrets...)
		if err == nil {
			return nil
		}
		return withRequestID(err, cmp.Or(traceID(obj), res.traceID)) // gw_err_resp has its own trace_id
	}
	ok := resp.StatusCode >= 200 && resp.StatusCode < 300
	switch {
	case present(a.GwErrResp):
		var g gwErrResp
		if err := sub(a.GwErrResp, &g); err != nil {
			res.err = err
			return res
		}
		if g.TraceID != "" {
			res.traceID = httpx.Short(string(g.TraceID), secrets...)
		}
		return fail(string(g.ErrCode), string(g.ErrMsg), gatewayKind(string(g.ErrCode), string(g.ErrMsg)))
	case present(a.ErrorResponse):
		var l legacyError
		if err := sub(a.ErrorResponse, &l); err != nil {
			res.err = err
			return res
		}
		msg := string(l.Msg)
		if msg == "" {
			msg = string(l.Message)
		}
		return fail(string(l.Code), msg, businessKind(string(l.Code), msg))
	case a.Success.Set:
		if !a.Success.V {
			return fail(string(a.Code), string(a.Message), businessKind(string(a.Code), string(a.Message)))
		}
		res.data = a.Data
	case present(a.Response):
		res.data = a.Response
	case a.Code != "":
		if a.Code != "200" && a.Code != "0" {
			return fail(string(a.Code), string(a.Message), businessKind(string(a.Code), string(a.Message)))
		}
		res.data = a.Data
	default:
		if err := resp.StatusError(platform, opCall, secrets...); err != nil {
			res.err = withRequestID(err, res.traceID)
			return res
		}
		res.err = &shoptoken.Error{Platform: platform, Op: opCall, StatusCode: resp.StatusCode, Kind: shoptoken.ErrBadResponse,
			RequestID: res.traceID, Message: "unknown answer: " + httpx.Snippet(resp.Body, secrets...)}
		return res
	}
	if !ok { // a success envelope on an error status: believe the status
		res.data = nil
		res.err = withRequestID(resp.StatusError(platform, opCall, secrets...), res.traceID)
	}
	return res
}

// ipWord finds "IP" as a word ("IP 白名单", "source ip not allowed"), not inside "multipart".
var ipWord = regexp.MustCompile(`(?i)(^|[^a-z])ip([^a-z]|$)`)

// gatewayKind maps a gateway err_code (PLATFORMS.md):
//
//	4001, 4005        bad path, unknown API or version   ErrBadRequest
//	4007              wrong method or content type       ErrBadRequest
//	4007              source IP not allowed (message)    ErrPermission
//	4101              too many requests                  ErrRateLimited (see RetryAfter)
//	4201, 4202, 4203  token invalid, expired, superseded ErrTokenInvalid (Call retries once)
//	4204              no permission for this API         ErrPermission
//	5001, 5003        system, plugin error               ErrUnavailable
//	5002              business error                     ErrBadRequest
//
// Other 4xxx codes are ErrBadRequest, other 5xxx ErrUnavailable, anything else ErrBadResponse.
func gatewayKind(code, msg string) error {
	n, err := strconv.Atoi(code)
	if err != nil {
		return shoptoken.ErrBadResponse
	}
	switch {
	case n == 4007:
		if ipWord.MatchString(msg) || phrase.Any(normalize(msg), "白名单", "whitelist", "allowlist", "allowedlist") {
			return shoptoken.ErrPermission
		}
		return shoptoken.ErrBadRequest
	case n == 4101:
		return shoptoken.ErrRateLimited
	case n >= 4201 && n <= 4203:
		return shoptoken.ErrTokenInvalid
	case n == 4204:
		return shoptoken.ErrPermission
	case n == 5002:
		return shoptoken.ErrBadRequest
	case n >= 4000 && n < 5000:
		return shoptoken.ErrBadRequest
	case n >= 5000 && n < 6000:
		return shoptoken.ErrUnavailable
	}
	return shoptoken.ErrBadResponse
}

// businessKind maps the code of a {"success":false} or legacy error_response answer: a gateway
// code means what it means there; a 5xx code is ErrUnavailable; any other code is a business
// rule the request broke (ErrBadRequest).
func businessKind(code, msg string) error {
	n, err := strconv.Atoi(code)
	switch {
	case err == nil && n >= 4000 && n < 6000:
		return gatewayKind(code, msg)
	case err == nil && n >= 500 && n < 600:
		return shoptoken.ErrUnavailable
	}
	return shoptoken.ErrBadRequest
}

// finish decodes a successful answer into out, or returns the failure (adding the 4101 advice).
func (st *state) finish(ctx context.Context, shop, api string, res result, out any) error {
	if res.err != nil {
		if errors.Is(res.err, shoptoken.ErrRateLimited) {
			err := st.lim.rateLimited(shop, api, res.err)
			if fn := st.cfg.OnRateLimited; fn != nil {
				if wait, ok := RetryAfter(err); ok {
					fn(ctx, st.cfg.key(shop), api, wait)
				}
			}
			return err
		}
		return res.err
	}
	st.lim.clear(shop, api)
	if out == nil || !present(res.data) {
		return nil
	}
	return withRequestID((&httpx.Response{StatusCode: res.status, Body: res.data}).DecodeJSON(platform, opCall, out), res.traceID)
}

// The gateway asks callers that get 4101 to back off 3, 6, 12, 24 and then 48 seconds [public].
const (
	rateLimitFirst = 3 * time.Second
	rateLimitSteps = 4 // 3 s << 4 = 48 s
)

// limiter keeps the 4101 back-off of every shop and API of one app (or of one NewClient), per
// shop and API, so that one shop's burst never makes another shop's advice grow. Only limited
// pairs have an entry; a success removes it.
type limiter struct {
	now     func() time.Time
	limited atomic.Int32 // len(m), read without the lock on the success path
	mu      sync.RWMutex
	m       map[limitKey]*limitState
	pruneAt int // len(m) at which stale entries are dropped
}

type limitKey struct{ shop, api string }

type limitState struct {
	level int
	last  time.Time
}

// minPrune is the smallest table the limiter looks through for stale entries.
const minPrune = 1024

// rateLimited attaches the advised wait to a 4101 error. The sequence is per shop and API: a
// 4101 that comes after the caller waited the advised time moves one step up; 4101s from a burst
// of concurrent calls within the same wait do not; a success, or a quiet spell of twice the wait
// (plus 3 s), starts again at 3 s.
func (l *limiter) rateLimited(shop, api string, err error) error {
	now := l.now()
	k := limitKey{shop, api}
	l.mu.Lock()
	st := l.m[k]
	if st == nil {
		if l.m == nil {
			l.m = map[limitKey]*limitState{}
		}
		if len(l.m) >= max(l.pruneAt, minPrune) {
			l.pruneLocked(now)
		}
		st = &limitState{}
		l.m[k] = st
		l.limited.Store(int32(len(l.m)))
	} else {
		switch since := now.Sub(st.last); {
		case since >= quiet(st.level):
			st.level = 0
		case since >= rateLimitFirst<<st.level:
			st.level = min(st.level+1, rateLimitSteps)
		}
	}
	st.last = now
	wait := rateLimitFirst << st.level
	l.mu.Unlock()
	var e *shoptoken.Error
	if !errors.As(err, &e) {
		return err
	}
	cp := *e
	cp.Err = &retryAfterError{wait: wait}
	return &cp
}

// quiet is how long without a 4101 starts the sequence again, from level.
func quiet(level int) time.Duration { return 2*(rateLimitFirst<<level) + rateLimitFirst }

// pruneLocked drops the entries whose quiet spell is over (they would start again at 3 s anyway),
// so that a table once filled by a burst of limits over many shops does not stay that size.
func (l *limiter) pruneLocked(now time.Time) {
	for k, st := range l.m {
		if now.Sub(st.last) >= quiet(st.level) {
			delete(l.m, k)
		}
	}
	l.pruneAt = 2 * len(l.m)
}

// clear ends shop's and api's back-off after a success. It takes no lock while nothing is limited.
func (l *limiter) clear(shop, api string) {
	if l.limited.Load() == 0 {
		return
	}
	k := limitKey{shop, api}
	l.mu.RLock()
	_, ok := l.m[k]
	l.mu.RUnlock()
	if !ok {
		return
	}
	l.mu.Lock()
	delete(l.m, k)
	l.limited.Store(int32(len(l.m)))
	l.mu.Unlock()
}

// size returns how many shop and API pairs are backing off.
func (l *limiter) size() int { return int(l.limited.Load()) }

type retryAfterError struct{ wait time.Duration }

func (e *retryAfterError) Error() string { return "retry after " + e.wait.String() }

// RetryAfter returns how long Youzan asks the caller to wait before calling again, when err is
// a 4101 (too many requests) from Call: 3 s, then 6, 12, 24 and 48 s for a shop and API that
// stay limited. The sequence is shared by App.Call and every App.Client of one App; a Client
// from NewClient keeps its own. Config.OnRateLimited is told of each one, for metrics.
func RetryAfter(err error) (time.Duration, bool) {
	var ra *retryAfterError
	if errors.As(err, &ra) {
		return ra.wait, true
	}
	return 0, false
}
