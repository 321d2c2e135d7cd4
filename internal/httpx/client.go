package httpx

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"maps"
	"math"
	"math/rand/v2"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-resty/resty/v2"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/defaultclient"
	"github.com/shoptoken/shoptoken/internal/redact"
)

// UserAgent is sent with every request.
const UserAgent = "shoptoken/" + shoptoken.Version + " (+https://github.com/shoptoken/shoptoken)"

const (
	defaultMaxBody     = 1 << 20
	defaultRetries     = 2
	defaultBackoffBase = 200 * time.Millisecond
	defaultBackoffMax  = 2 * time.Second
	// maxRetryAfter is the longest Retry-After that is waited for. A platform asking for more is
	// not retried: the caller (the Cache, with its own schedule) is better placed to wait.
	maxRetryAfter = 30 * time.Second
)

// Header values every request carries, shared read-only by all of them (a Header's Set replaces a
// value, and Add to a full slice copies it), so that building a request allocates none.
var (
	userAgent  = []string{UserAgent}
	acceptJSON = []string{"application/json"}
	jsonType   = []string{"application/json"}
	formType   = []string{"application/x-www-form-urlencoded"}
)

// Config configures the Client of one platform.
type Config struct {
	// Platform names the platform ("youzan", "vvtool", "vipauth", "veapi") in every *shoptoken.Error.
	Platform string
	// HTTPClient sends the requests. If nil, defaultclient.Shared() (5 s to connect, 15 s to the
	// response headers, 30 s in all). The Client works on a shallow copy, so the caller's value is
	// never modified; its Transport, Timeout and Jar are used as they are, its CheckRedirect only
	// for the redirects FollowSameOrigin allows (see the package documentation).
	HTTPClient *http.Client
	// Logger receives a Debug record for every attempt (method, redacted URL, status, duration,
	// attempt). If nil, nothing is logged.
	Logger *slog.Logger
	// OmitBody leaves the body snippet out of the debug log, for an endpoint whose answers are
	// made of secrets (one under a name the redaction does not know would show in the snippet).
	OmitBody bool
	// MaxBody caps the response body in bytes. If 0, 1 MiB.
	MaxBody int64
	// Retries is the number of extra attempts where a retry is safe. If 0, 2; if negative, none.
	Retries int
	// BackoffBase and BackoffMax shape the wait between attempts: a random duration between zero
	// and min(BackoffMax, BackoffBase<<n) before retry n+1. If 0, 200ms and 2s.
	BackoffBase, BackoffMax time.Duration
	// FollowSameOrigin lets a redirect to the same scheme, host and port as the request be
	// followed (up to 10 in a row, or as HTTPClient.CheckRedirect decides). Set it only for a
	// platform known to redirect its own endpoints: none of the four is, so no provider sets it.
	// A redirect to another origin is never followed, whatever this says.
	FollowSameOrigin bool
}

// Client sends the requests of one platform. It is safe for concurrent use.
type Client struct {
	platform    string
	rc          *resty.Client
	log         *slog.Logger
	omitBody    bool
	maxBody     int64
	retries     int
	backoffBase time.Duration
	backoffMax  time.Duration
}

// New returns a Client for cfg, filling in the defaults documented on Config.
func New(cfg Config) *Client {
	base := cmp.Or(max(cfg.BackoffBase, 0), defaultBackoffBase)
	c := &Client{
		platform:    cfg.Platform,
		log:         cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler)),
		omitBody:    cfg.OmitBody,
		maxBody:     cmp.Or(max(cfg.MaxBody, 0), defaultMaxBody),
		retries:     max(cmp.Or(cfg.Retries, defaultRetries), 0),
		backoffBase: base,
		backoffMax:  max(cmp.Or(max(cfg.BackoffMax, 0), defaultBackoffMax), base),
	}
	// resty sets a Transport on a client that has none: work on a copy so that the caller's
	// (possibly shared) client is never written to.
	hc := *cmp.Or(cfg.HTTPClient, defaultclient.Shared())
	hc.Transport = capBody{cmp.Or(hc.Transport, http.DefaultTransport), c.maxBody}
	hc.CheckRedirect = redirectPolicy(cfg.FollowSameOrigin, hc.CheckRedirect)
	// Resty runs the retries: their number, the condition (set per request in Do, as it depends on
	// Request.Idempotent), the wait (from c.wait, so SetRetryWaitTime's floor is 0 and the ceiling
	// above any wait it returns) and the body limit.
	c.rc = resty.NewWithClient(&hc).
		SetLogger(quietLogger{}).
		SetAllowGetMethodPayload(true).
		SetResponseBodyLimit(int(min(c.maxBody, math.MaxInt))).
		SetRetryCount(c.retries).
		SetRetryWaitTime(0).
		SetRetryMaxWaitTime(max(c.backoffMax, maxRetryAfter)).
		SetRetryAfter(c.wait)
	return c
}

// Request describes one platform request.
type Request struct {
	// Op names the operation ("token", "refresh", "exchange", "token_info", "revoke", "call") in
	// every *shoptoken.Error.
	Op string
	// Method is the HTTP method. If empty, POST when a body (Form, Multipart, JSON) is set, GET
	// otherwise.
	Method string
	// URL is absolute and may already carry a query.
	URL string
	// Query is appended to URL's query; parameters already in URL are kept as written.
	Query url.Values
	// Form, if set, is sent as an application/x-www-form-urlencoded body.
	Form url.Values
	// Multipart, if set, is sent as a multipart/form-data body of plain fields (no files), in
	// the order of their names, under a boundary chosen once per Request.
	Multipart url.Values
	// JSON, if set, is sent as an application/json body. []byte and json.RawMessage are sent as
	// they are; anything else is marshalled once, before the first attempt.
	JSON any
	// Header holds extra headers; they replace the defaults (User-Agent, Accept) of the same name.
	Header http.Header
	// Idempotent allows retries after the request may have reached the server: on 502, 503 and
	// 504, on 429 with a Retry-After, and on network failures other than timeouts.
	Idempotent bool
	// Secrets lists secret values (tokens, app secret, code...) to scrub from error text, body
	// snippets and logs.
	Secrets []string
}

// Response is an HTTP answer, whatever its status.
type Response struct {
	StatusCode int
	Header     http.Header
	// Body holds at most Config.MaxBody bytes.
	Body []byte
	// Request is the method and the redacted URL, for messages.
	Request string
}

// prepared is a Request checked and encoded once, reused by every attempt.
type prepared struct {
	op         string
	method     string
	url        string
	header     http.Header
	body       []byte
	idempotent bool
	secrets    []string
	shown      string // method and redacted URL
}

// Do sends req under ctx and returns the answer, whatever its status. It returns an error only when
// no usable answer arrived (see the package documentation for the retry policy). After the last
// attempt the last answer is returned: classifying its status is the caller's job.
func (c *Client) Do(ctx context.Context, req Request) (*Response, error) {
	p, err := c.prepare(req)
	if err != nil {
		return nil, err
	}
	// The provider decodes the body, never resty; a content type resty does not decode spares it
	// the two regular expressions that decide whether to try.
	x := &exchange{c: c, p: p, r: c.rc.R().SetContext(ctx).ForceContentType("-")}
	x.r.Header = p.header
	if p.body != nil {
		x.r.SetBody(p.body)
	}
	if c.retries > 0 {
		x.r.AddRetryCondition(x.settle)
	}
	rr, err := x.r.Execute(p.method, p.url)
	if x.n != x.r.Attempt {
		// No condition saw the last attempt: no retries, or the context ended during it. When one
		// did, err is not about it (resty returns the context's error if it ends during a wait).
		x.settle(rr, err)
	}
	return x.resp, x.err
}

// exchange is one Do: the request, and what its latest attempt came to.
type exchange struct {
	c *Client
	p *prepared
	r *resty.Request

	n    int       // the attempt settled, 1-based
	resp *Response // its answer, or
	err  error     // why there is none
}

// settle is the request's retry condition, which resty calls after every attempt while retries
// remain and the context lasts; Do calls it for an attempt resty did not show it. It turns attempt
// n into an answer or an error, logs it, and reports whether sending again is safe and useful: the
// rules of the package documentation, which depend on what may have reached the server and which
// resty cannot express. It is also the only place that sees every attempt: resty's OnAfterResponse
// misses failures, OnError and OnSuccess run once per request, a retry hook only before a retry.
func (x *exchange) settle(rr *resty.Response, err error) (again bool) {
	c, p := x.c, x.p
	x.n, x.resp, x.err = x.r.Attempt, nil, nil
	var raw *http.Response
	if rr != nil {
		raw = rr.RawResponse
	}
	switch {
	case raw == nil: // nothing arrived; a failure to connect sent nothing
		again = !isTimeout(err) && (connectFailed(err) || p.idempotent)
		x.err = c.networkError(p, err)
	case errors.Is(err, resty.ErrResponseBodyTooLarge):
		x.err = &shoptoken.Error{Platform: c.platform, Op: p.op, StatusCode: raw.StatusCode, Kind: shoptoken.ErrBadResponse,
			Message: "response body exceeds " + strconv.FormatInt(c.maxBody, 10) + " bytes"}
	case err != nil: // the body broke off
		again = p.idempotent && !isTimeout(err)
		op := p.method[:1] + strings.ToLower(p.method[1:]) // as net/http writes it: "Post"
		x.err = c.networkError(p, &url.Error{Op: op, URL: p.url, Err: err})
	default:
		if x.err = c.redirectError(p, raw); x.err != nil {
			break
		}
		x.resp = &Response{StatusCode: raw.StatusCode, Header: raw.Header, Body: rr.Body(), Request: p.shown}
		switch raw.StatusCode {
		case http.StatusBadGateway, http.StatusGatewayTimeout:
			again = p.idempotent
		case http.StatusServiceUnavailable, http.StatusTooManyRequests:
			// A Retry-After longer than maxRetryAfter is the caller's (the Cache's) to wait.
			ra, ok := retryAfter(raw.Header.Get("Retry-After"), time.Now())
			again = p.idempotent && (ok && ra <= maxRetryAfter || !ok && raw.StatusCode == http.StatusServiceUnavailable)
		}
	}
	var took time.Duration
	if rr != nil {
		took = rr.Time()
	}
	c.logAttempt(x.r.Context(), p, x.n, took, x.resp, x.err, again)
	return again
}

// errNoTime stops resty's retries when the next wait would outlive the context's deadline.
var errNoTime = errors.New("httpx: no time left for another attempt")

// wait is resty's RetryAfter: the Retry-After of a 429 or 503 (settle refused any longer than
// maxRetryAfter), else the backoff. It keeps two rules resty cannot express. No wait outlives the
// context's deadline: resty would wait until the context ends and return its error in place of the
// last answer; errNoTime makes it stop at once, and Do returns that answer. The backoff has full
// jitter: resty's never waits less than its base, so the first retry of every client that saw the
// same failure would come at the same instant.
func (c *Client) wait(_ *resty.Client, rr *resty.Response) (time.Duration, error) {
	d, ok := time.Duration(0), false
	if raw := rr.RawResponse; raw != nil &&
		(raw.StatusCode == http.StatusServiceUnavailable || raw.StatusCode == http.StatusTooManyRequests) {
		d, ok = retryAfter(raw.Header.Get("Retry-After"), time.Now())
	}
	if !ok {
		d = c.backoff(rr.Request.Attempt)
	}
	if dl, ok := rr.Request.Context().Deadline(); ok && time.Until(dl) <= d {
		return 0, errNoTime
	}
	return max(d, time.Nanosecond), nil // resty reads 0 as "use your own backoff"
}

func (c *Client) prepare(req Request) (*prepared, error) {
	p := &prepared{
		op:         req.Op,
		method:     strings.ToUpper(req.Method),
		idempotent: req.Idempotent,
		secrets:    req.Secrets,
	}
	u, err := url.Parse(req.URL)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return nil, c.requestError(p, "invalid URL "+redact.Known(redact.URL(req.URL), p.secrets...), nil)
	}
	if len(req.Query) > 0 {
		if u.RawQuery == "" {
			u.RawQuery = req.Query.Encode()
		} else {
			u.RawQuery += "&" + req.Query.Encode()
		}
	}
	p.url = req.URL // as written, unless a query is added or a fragment dropped
	if len(req.Query) > 0 || strings.Contains(req.URL, "#") {
		u.Fragment, u.RawFragment = "", ""
		p.url = u.String()
	}

	p.header = make(http.Header, len(req.Header)+3)
	p.header["User-Agent"] = userAgent
	p.header["Accept"] = acceptJSON
	switch {
	case bodies(req) > 1:
		return nil, c.requestError(p, "request has more than one body (Form, Multipart, JSON)", nil)
	case req.Multipart != nil:
		body, ctype, err := multipartBody(req.Multipart)
		if err != nil {
			return nil, c.requestError(p, "encode multipart body", err)
		}
		p.body = body
		p.header.Set("Content-Type", ctype)
	case req.Form != nil:
		p.body = []byte(req.Form.Encode())
		p.header["Content-Type"] = formType
	case req.JSON != nil:
		switch v := req.JSON.(type) {
		case []byte:
			p.body = v
		case json.RawMessage:
			p.body = v
		default:
			if p.body, err = json.Marshal(v); err != nil {
				return nil, c.requestError(p, "encode JSON body", err)
			}
		}
		if p.body == nil {
			p.body = []byte{}
		}
		p.header["Content-Type"] = jsonType
	}
	for k, vs := range req.Header {
		p.header[http.CanonicalHeaderKey(k)] = append([]string(nil), vs...)
	}
	if p.method == "" {
		p.method = http.MethodGet
		if p.body != nil {
			p.method = http.MethodPost
		}
	}
	shown := p.url // without user information or a query, the URL is its own redaction
	if u.User != nil || strings.Contains(shown, "?") {
		shown = redact.URL(shown)
	}
	p.shown = p.method + " " + redact.Known(shown, p.secrets...)
	return p, nil
}

// bodies counts the bodies req asks for; more than one is a mistake.
func bodies(req Request) int {
	n := 0
	for _, set := range []bool{req.Form != nil, req.Multipart != nil, req.JSON != nil} {
		if set {
			n++
		}
	}
	return n
}

// multipartBody encodes fields as multipart/form-data, names sorted so that the body does not
// depend on map order, and returns it with its Content-Type (which names the boundary).
func multipartBody(fields url.Values) ([]byte, string, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, name := range slices.Sorted(maps.Keys(fields)) {
		for _, v := range fields[name] {
			if err := mw.WriteField(name, v); err != nil {
				return nil, "", err
			}
		}
	}
	if err := mw.Close(); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), mw.FormDataContentType(), nil
}

// capBody ends a response body one byte past max. Resty's SetResponseBodyLimit reads in 512-byte
// steps, so alone it may download up to 511 bytes more before it refuses the body. A body whose
// stated length fits is left alone: it ends there.
type capBody struct {
	http.RoundTripper
	max int64
}

func (t capBody) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.RoundTripper.RoundTrip(r)
	if err == nil && resp.Body != nil && (resp.ContentLength < 0 || resp.ContentLength > t.max) {
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.LimitReader(resp.Body, t.max+1), resp.Body}
	}
	return resp, err
}

// networkError turns a transport failure into ErrUnavailable whose text carries no secret. Go's
// *url.Error prints the whole URL, query included, so it is rebuilt around a redacted URL (also
// found by errors.As, so it must be clean itself, not only the text around it); the inner error is
// kept, so errors.Is(err, context.DeadlineExceeded) still works.
func (c *Client) networkError(p *prepared, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = &url.Error{Op: ue.Op, URL: redact.Known(redact.URL(ue.URL), p.secrets...), Err: ue.Err}
	}
	return &shoptoken.Error{
		Platform: c.platform,
		Op:       p.op,
		Kind:     shoptoken.ErrUnavailable,
		Err:      scrubError(err, p.secrets),
	}
}

// requestError reports a request that cannot be sent as built: a bug in the calling provider.
func (c *Client) requestError(p *prepared, msg string, cause error) error {
	return &shoptoken.Error{
		Platform: c.platform,
		Op:       p.op,
		Kind:     shoptoken.ErrBadRequest,
		Message:  msg,
		Err:      scrubError(cause, p.secrets),
	}
}

// connectFailed reports whether err happened before any byte of the request was sent.
func connectFailed(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && (op.Op == "dial" || op.Op == "proxyconnect")
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// retryAfter parses a Retry-After value: delay-seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s < 0 {
			return 0, false
		}
		if s > int64(maxRetryAfter/time.Second)+1 {
			return maxRetryAfter + time.Second, true
		}
		return time.Duration(s) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

// backoff returns the wait before retry n (1-based): full jitter over min(max, base<<(n-1)).
func (c *Client) backoff(n int) time.Duration {
	ceiling := c.backoffMax
	if shift := n - 1; shift < 30 {
		if d := c.backoffBase << shift; d > 0 && d < ceiling {
			ceiling = d
		}
	}
	return time.Duration(rand.Int64N(int64(ceiling) + 1))
}

func (c *Client) logAttempt(ctx context.Context, p *prepared, n int, d time.Duration, resp *Response, err error, retry bool) {
	if !c.log.Enabled(ctx, slog.LevelDebug) {
		return
	}
	attrs := make([]slog.Attr, 0, 10)
	attrs = append(attrs,
		slog.String("platform", c.platform),
		slog.String("op", p.op),
		slog.String("method", p.method),
		slog.String("url", p.shown[len(p.method)+1:]),
		slog.Int("attempt", n),
		slog.Duration("duration", d),
	)
	msg := "httpx: response"
	if resp != nil {
		attrs = append(attrs, slog.Int("status", resp.StatusCode))
		if !c.omitBody {
			attrs = append(attrs, slog.String("body", Snippet(resp.Body, p.secrets...)))
		}
	}
	if err != nil {
		msg = "httpx: request failed"
		var se *shoptoken.Error
		if errors.As(err, &se) && se.StatusCode != 0 {
			attrs = append(attrs, slog.Int("status", se.StatusCode))
		}
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	attrs = append(attrs, slog.Bool("retry", retry))
	c.log.LogAttrs(ctx, slog.LevelDebug, msg, attrs...)
}

// quietLogger keeps resty silent: everything worth saying is logged, redacted, by the Client.
type quietLogger struct{}

func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Warnf(string, ...any)  {}
func (quietLogger) Debugf(string, ...any) {}
