package shoptokentest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shoptoken/shoptoken"
)

// Option configures an emulator. Every option applies to all four emulators unless its
// comment says otherwise; an option that means nothing to a platform is ignored there.
type Option func(*options)

type options struct {
	tokenTTL   time.Duration
	refreshTTL time.Duration
	latency    time.Duration
	now        func() time.Time
	ipHeader   string
	id, secret string
	credsSet   bool
	abuseX     int
	abusePer   time.Duration

	lenient     bool
	grants      []string // Youzan: the grant ids that exist (nil: the default)
	redirects   []string // vip.com: the registered redirect URIs (nil: the default)
	sameRefresh bool     // veapi: a refresh answers with the refresh token it was sent
	consentPage bool     // vip.com, Youzan: authorize shows a page with Authorize and Deny
}

// Lenient turns strict mode off. By default every emulator is strict: it accepts only what the
// platform's documentation shows (see the package documentation for each platform's rules), so
// that a client that departs from the documented wire format fails its tests. A lenient emulator
// also accepts the departures a real platform might or might not tolerate: vv-tool credentials
// urlencoded or in the query, vip.com parameters in a form body and any redirect URI, veapi API
// calls without vekey, Youzan grant ids that were never registered (every shop has authorized)
// and given as JSON numbers. Use it for code whose wire format you cannot change; a test that
// passes only against a lenient emulator proves nothing about the real platform.
func Lenient() Option {
	return func(o *options) { o.lenient = true }
}

// WithGrants sets the Youzan grant ids (kdt_id) that exist: silent authorization for any other
// id is refused with 1103 "grant does not exist", as the platform refuses a shop that never
// authorized the app. Without this option the one grant is YouzanGrantID. Youzan.NewCode adds a
// grant too (the merchant has just authorized). Lenient emulators know every id. Other
// emulators ignore it.
func WithGrants(ids ...string) Option {
	return func(o *options) { o.grants = append([]string{}, ids...) }
}

// WithRedirectURIs sets the redirect URIs registered for the vip.com app, or the callback
// addresses of the Youzan tool app: authorize refuses any other (no code is issued), and so does
// vip.com's token endpoint. Without this option the one registered URI is VipAuthRedirectURI
// (vip.com) or YouzanRedirectURI (Youzan, where an authorize request without redirect_uri goes to
// the first). OOB (urn:ietf:wg:oauth:2.0:oob, vip.com's native-app flow) is always accepted.
// Lenient emulators accept any absolute URI. Other emulators ignore it.
func WithRedirectURIs(uris ...string) Option {
	return func(o *options) { o.redirects = append([]string{}, uris...) }
}

// WithSameRefreshToken makes the veapi emulator answer every refresh with the refresh token it
// was sent, which stays valid, instead of rotating it: the platform's own example answer returns
// the refresh_token of its request, so a client must handle both shapes. The previous access
// token still dies at once. Other emulators ignore it.
func WithSameRefreshToken() Option {
	return func(o *options) { o.sameRefresh = true }
}

// WithTokenTTL sets the access-token lifetime. A zero or negative d keeps the platform's
// default: Youzan 7 days, vv-tool 3000 days, vip.com 30 days, veapi 90 days.
func WithTokenTTL(d time.Duration) Option {
	return func(o *options) { o.tokenTTL = d }
}

// WithRefreshTTL sets the refresh-token lifetime. A zero or negative d keeps the default:
// Youzan 28 days, veapi 180 days. vv-tool and vip.com have no refresh tokens.
func WithRefreshTTL(d time.Duration) Option {
	return func(o *options) { o.refreshTTL = d }
}

// WithLatency makes every answer (token and API endpoints) wait d before it is produced.
// The wait ends early, with no answer and nothing issued, if the request's context ends.
func WithLatency(d time.Duration) Option {
	return func(o *options) { o.latency = d }
}

// WithClock sets the emulator's clock, so tests can move time instead of sleeping: give the same
// Clock (NewClock) to the platform Config, and the emulator and the SDK agree on what time it is.
// Its Now is called with the emulator's lock held and must not call back into the emulator. A
// nil clock means the system clock.
func WithClock(clk shoptoken.Clock) Option {
	return func(o *options) {
		if clk != nil {
			o.now = clk.Now
		}
	}
}

// WithIPHeader takes the client IP from the named request header (the first comma-separated
// entry, e.g. of X-Forwarded-For) instead of the connection's remote address, so loopback
// tests can pretend to be several hosts. Requests without the header use the remote address.
func WithIPHeader(name string) Option {
	return func(o *options) { o.ipHeader = name }
}

// WithCredentials sets the app credentials the emulator accepts. Defaults: Youzan
// client_id "id" / client_secret "secret"; vv-tool Account "account" / AccessKey "key";
// vip.com client_id "id" / client_secret "secret"; veapi vekey "vekey" (veapi uses id as the
// vekey and ignores secret).
func WithCredentials(id, secret string) Option {
	return func(o *options) { o.id, o.secret, o.credsSet = id, secret, true }
}

// WithAbuseRule turns on vv-tool's abuse rule as the platform states it: a sudden several-fold
// jump in the calls made with a token makes the platform judge it stolen and shorten its
// validity. The emulator counts the API calls each token makes in consecutive windows of length
// per, counted from the token's issue; when a window's calls exceed factor times those of the
// window before it (which had at least one), the token expires one window later if it would
// have lived longer (counted in Stats.Shortened). The real thresholds are unknown. Token fetches
// are not counted: the seed's rule is about call volume. Other emulators ignore it. factor <= 0
// or per <= 0 turns the rule off (the default).
func WithAbuseRule(factor int, per time.Duration) Option {
	return func(o *options) { o.abuseX, o.abusePer = factor, per }
}

// Fault is a failure injected into the next answers of an emulator with FailNext or FailAPI.
type Fault int

const (
	// FaultNone answers normally. Queued with FailNext, it lets a test place a fault after
	// some normal answers.
	FaultNone Fault = iota
	// FaultUnavailable answers HTTP 503 with a short text body; nothing is issued.
	FaultUnavailable
	// FaultHTML answers HTTP 502 with an nginx-style HTML error page; nothing is issued.
	FaultHTML
	// FaultHTML200 answers HTTP 200 with an HTML page, as a captive portal or a web
	// application firewall would; nothing is issued.
	FaultHTML200
	// FaultTruncated processes the request (a token IS issued and the old one killed) and
	// answers HTTP 200 with the first half of the real body.
	FaultTruncated
	// FaultWrongTypes processes the request (a token IS issued) and answers the real body
	// with every JSON number turned into a string, every string that reads as a number
	// turned into a number, and every boolean turned into a string.
	FaultWrongTypes
	// FaultDrop processes the request (a token IS issued and the old one killed) and then
	// closes the connection without answering: a lost response. Note that Go's
	// http.Transport silently resends an idempotent request (GET) once when a reused
	// connection closes this way, so the second attempt may reach the emulator.
	FaultDrop
	// FaultSlow waits 10 seconds before answering normally. If the request's context ends
	// (or the emulator is closed) first, nothing is issued and no answer is written.
	FaultSlow
)

var faultNames = [...]string{"FaultNone", "FaultUnavailable", "FaultHTML", "FaultHTML200",
	"FaultTruncated", "FaultWrongTypes", "FaultDrop", "FaultSlow"}

// String returns the constant's name, e.g. "FaultDrop".
func (f Fault) String() string {
	if f >= 0 && int(f) < len(faultNames) {
		return faultNames[f]
	}
	return "Fault(" + strconv.Itoa(int(f)) + ")"
}

// ParseFault returns the Fault named s: its constant's name ("FaultDrop") or that name without
// "Fault", in any case ("drop", "html200", "wrongtypes"), so that faults can be named in a URL or
// on a command line.
func ParseFault(s string) (Fault, error) {
	want := strings.ToLower(strings.TrimPrefix(strings.TrimPrefix(s, "Fault"), "fault"))
	want = strings.NewReplacer("-", "", "_", "").Replace(want)
	for i, name := range faultNames {
		if strings.ToLower(strings.TrimPrefix(name, "Fault")) == want {
			return Fault(i), nil
		}
	}
	return FaultNone, fmt.Errorf("shoptokentest: no fault named %q (one of none, unavailable, html, html200, truncated, wrongtypes, drop, slow)", s)
}

// maxBody is the most of a request body the emulators read.
const maxBody = 1 << 20

// slowDelay is how long FaultSlow waits.
const slowDelay = 10 * time.Second

// Stats counts what an emulator has seen since it started or since ResetStats.
type Stats struct {
	TokenRequests   int // requests to the token endpoint(s), any outcome, faults included
	Issued          int // new access tokens issued (also when the answer was then lost to a fault)
	Reused          int // answers that returned an existing token (Youzan refresh:false while valid)
	APICalls        int // requests to the API endpoint(s), any outcome, faults included
	Rejected        int // API calls rejected for the token (missing/invalid/expired/superseded/IP)
	DeadRefreshUsed int // refresh attempts with a refresh token that was already rotated away or revoked
	Errors          int // token-endpoint answers that carried a platform error (not injected faults)
	Faults          int // injected faults served, token and API endpoints together (FaultNone not counted)
	Shortened       int // tokens whose validity the abuse rule cut short (vv-tool, WithAbuseRule)
}

type endpoint int

const (
	epOther endpoint = iota // not counted, no faults (e.g. the browser's authorize page)
	epToken
	epAPI
)

// answer is what a handler wants written; the core applies faults to it.
type answer struct {
	status int
	ctype  string
	body   []byte
	header http.Header // extra headers (Location)
}

const (
	ctypeJSON = "application/json;charset=UTF-8"
	ctypeText = "text/plain; charset=utf-8"
	ctypeHTML = "text/html; charset=utf-8"
)

// core is the machinery shared by the four emulators: the server, the one lock, the clock,
// counters, fault queues and latency.
type core struct {
	srv  *httptest.Server
	mux  http.Handler
	opts options

	quit      chan struct{}
	closeOnce sync.Once

	mu         sync.Mutex // guards everything below and every platform's state
	stats      Stats
	tokenFault []Fault
	apiFault   []Fault
}

func newCore(opts []Option, defID, defSecret string) *core {
	c := &core{quit: make(chan struct{})}
	for _, o := range opts {
		if o != nil {
			o(&c.opts)
		}
	}
	if c.opts.now == nil {
		c.opts.now = time.Now
	}
	if !c.opts.credsSet {
		c.opts.id, c.opts.secret = defID, defSecret
	}
	return c
}

func (c *core) start(h http.Handler) string {
	c.mux = h
	c.srv = httptest.NewServer(h)
	return c.srv.URL
}

// Handler returns the emulator's endpoints as an http.Handler, to serve them from a server of
// your own, under a base path with http.StripPrefix (as the shoptoken command's emulate verb
// does, for programs in other languages). It shares everything with the emulator: tokens, faults,
// latency, counters. Faults that drop the connection need a server that supports
// http.Hijacker (HTTP/1.1). Close still ends waits on latency and FaultSlow.
func (c *core) Handler() http.Handler { return c.mux }

// SetLatency makes every later answer wait d before it is produced, as WithLatency does from the
// start; zero or negative removes the wait. Requests already waiting keep their wait.
func (c *core) SetLatency(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.opts.latency = max(d, 0)
}

// Close shuts the emulator down. Requests waiting on latency or FaultSlow end at once, with
// the connection closed and nothing issued.
// Close may be called more than once.
func (c *core) Close() {
	c.closeOnce.Do(func() {
		close(c.quit)
		c.srv.Close()
	})
}

// Client returns an *http.Client that talks to the emulator (the httptest server's client).
func (c *core) Client() *http.Client { return c.srv.Client() }

// Stats returns a snapshot of the counters.
func (c *core) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// ResetStats sets every counter to zero. Tokens and pending faults are kept.
func (c *core) ResetStats() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stats = Stats{}
}

// FailNext makes the next n token-endpoint requests fail with f, after any faults already
// queued. n <= 0 clears the queue.
func (c *core) FailNext(f Fault, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tokenFault = queue(c.tokenFault, f, n)
}

// FailAPI makes the next n API-endpoint requests fail with f, after any faults already
// queued. n <= 0 clears the queue.
func (c *core) FailAPI(f Fault, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.apiFault = queue(c.apiFault, f, n)
}

// queue appends n copies of v to q; n <= 0 empties q. FailNext, FailAPI and Youzan.FailAPIWith
// share it.
func queue[T any](q []T, v T, n int) []T {
	if n <= 0 {
		return nil
	}
	for range n {
		q = append(q, v)
	}
	return q
}

// now must be called with c.mu held.
func (c *core) now() time.Time { return c.opts.now() }

func ttl(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// clientIP is the caller's address as the platform sees it.
func (c *core) clientIP(r *http.Request) string {
	if c.opts.ipHeader != "" {
		if v := r.Header.Get(c.opts.ipHeader); v != "" {
			first, _, _ := strings.Cut(v, ",")
			return strings.TrimSpace(first)
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// wait sleeps d; false if the request or the emulator ended first.
func (c *core) wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-c.quit:
		return false
	}
}

// handle wraps an endpoint: counting, latency (plus FaultSlow's delay), faults, then fn, then
// writing. A wait cut short by the request's context or by Close ends with the connection
// closed and nothing issued.
func (c *core) handle(kind endpoint, fn func(r *http.Request) answer) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		f := FaultNone
		c.mu.Lock()
		switch kind {
		case epToken:
			c.stats.TokenRequests++
			if len(c.tokenFault) > 0 {
				f, c.tokenFault = c.tokenFault[0], c.tokenFault[1:]
			}
		case epAPI:
			c.stats.APICalls++
			if len(c.apiFault) > 0 {
				f, c.apiFault = c.apiFault[0], c.apiFault[1:]
			}
		}
		if f != FaultNone {
			c.stats.Faults++
		}
		delay := c.opts.latency
		c.mu.Unlock()

		// Read the body now: only once it is consumed does net/http watch the connection
		// and cancel the request's context when the client goes away during a wait.
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
		if err != nil {
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))

		if f == FaultSlow {
			delay += slowDelay
		}
		if !c.wait(r.Context(), delay) {
			drop(w) // no answer: returning would send an empty HTTP 200 to a client still there
			return
		}
		switch f {
		case FaultUnavailable:
			write(w, answer{status: http.StatusServiceUnavailable, ctype: ctypeText, body: []byte("Service Unavailable")})
			return
		case FaultHTML:
			write(w, answer{status: http.StatusBadGateway, ctype: ctypeHTML, body: []byte(nginx502)})
			return
		case FaultHTML200:
			write(w, answer{status: http.StatusOK, ctype: ctypeHTML, body: []byte(portalPage)})
			return
		}
		a := fn(r)
		switch f {
		case FaultTruncated:
			a.body = a.body[:len(a.body)/2]
		case FaultWrongTypes:
			a.body = swapTypes(a.body)
		case FaultDrop:
			drop(w)
			return
		}
		write(w, a)
	}
}

func write(w http.ResponseWriter, a answer) {
	for k, vs := range a.header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	if a.ctype != "" {
		w.Header().Set("Content-Type", a.ctype)
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(a.body)))
	if a.status == 0 {
		a.status = http.StatusOK
	}
	w.WriteHeader(a.status)
	_, _ = w.Write(a.body)
}

// drop closes the connection without a response.
func drop(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler) // HTTP/2: the server resets the stream, no answer
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

const nginx502 = `<html>
<head><title>502 Bad Gateway</title></head>
<body>
<center><h1>502 Bad Gateway</h1></center>
<hr><center>nginx</center>
</body>
</html>
`

const portalPage = `<!DOCTYPE html>
<html>
<head><meta charset="utf-8"><title>网络认证</title></head>
<body>
<h1>请先登录后再访问网络</h1>
<p>Please sign in to continue.</p>
<form method="post" action="/portal/login"><input name="user"><input name="password" type="password"></form>
</body>
</html>
`

// jsonBody encodes v without HTML escaping, as the platforms' Java/PHP encoders do.
func jsonBody(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only the emulator's own values are encoded here; failing is a bug in this package.
		panic("shoptokentest: encoding answer: " + err.Error())
	}
	return bytes.TrimRight(buf.Bytes(), "\n")
}

func jsonAnswer(status int, v any) answer {
	return answer{status: status, ctype: ctypeJSON, body: jsonBody(v)}
}

func methodNotAllowed() answer {
	return answer{status: http.StatusMethodNotAllowed, ctype: ctypeText, body: []byte("Method Not Allowed")}
}

// swapTypes rewrites a JSON document keeping its key order: numbers become strings, strings
// that read as JSON numbers become numbers, booleans become strings. Bodies that are not JSON
// are returned unchanged.
func swapTypes(body []byte) []byte {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var buf bytes.Buffer
	if err := swapValue(dec, &buf); err != nil {
		return body
	}
	return buf.Bytes()
}

func swapValue(dec *json.Decoder, buf *bytes.Buffer) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch v := tok.(type) {
	case json.Delim:
		open, end := byte(v), byte('}')
		if v == '[' {
			end = ']'
		}
		buf.WriteByte(open)
		for i := 0; dec.More(); i++ {
			if i > 0 {
				buf.WriteByte(',')
			}
			if open == '{' {
				k, err := dec.Token()
				if err != nil {
					return err
				}
				buf.Write(jsonBody(k))
				buf.WriteByte(':')
			}
			if err := swapValue(dec, buf); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil {
			return err
		}
		buf.WriteByte(end)
	case json.Number:
		buf.Write(jsonBody(v.String()))
	case string:
		if isJSONNumber(v) {
			buf.WriteString(v)
		} else {
			buf.Write(jsonBody(v))
		}
	case bool:
		buf.Write(jsonBody(strconv.FormatBool(v)))
	case nil:
		buf.WriteString("null")
	}
	return nil
}

func isJSONNumber(s string) bool {
	if s == "" || !(s[0] == '-' || (s[0] >= '0' && s[0] <= '9')) {
		return false
	}
	var n json.Number
	return json.Unmarshal([]byte(s), &n) == nil
}

// randHex returns n random bytes as hex.
func randHex(n int, upper bool) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("shoptokentest: crypto/rand: " + err.Error()) // never fails on supported platforms
	}
	s := hex.EncodeToString(b)
	if upper {
		s = strings.ToUpper(s)
	}
	return s
}

const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

// randLetters returns n random letters (request ids that never read as numbers).
func randLetters(n int) string {
	b := make([]byte, n)
	size := big.NewInt(int64(len(letters)))
	for i := range b {
		k, err := rand.Int(rand.Reader, size)
		if err != nil {
			panic("shoptokentest: crypto/rand: " + err.Error())
		}
		b[i] = letters[k.Int64()]
	}
	return string(b)
}

// freshHex returns n random bytes as hex (see randHex) that are not yet a key of m.
func freshHex[V any](m map[string]V, n int, upper bool) string {
	for {
		s := randHex(n, upper)
		if _, taken := m[s]; !taken {
			return s
		}
	}
}

// formValues parses query, urlencoded and multipart bodies alike into r.Form.
func formValues(r *http.Request) error {
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		return r.ParseMultipartForm(maxBody)
	}
	return r.ParseForm()
}

func ms(t time.Time) int64 { return t.UnixMilli() }

// mediaType is the request's Content-Type without parameters, lower case; "" if there is none.
func mediaType(r *http.Request) string {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return ""
	}
	return mt
}
