package restyauth_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/go-resty/resty/v2"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/testkit"
	"github.com/shoptoken/shoptoken/restyauth"
	"github.com/shoptoken/shoptoken/shoptokentest"
	"github.com/shoptoken/shoptoken/veapi"
	"github.com/shoptoken/shoptoken/vipauth"
	"github.com/shoptoken/shoptoken/vvtool"
	"github.com/shoptoken/shoptoken/youzan"
)

// Distinctive secrets of 40 characters: the leak checks search every output for 8-character
// pieces of them, and of every token the emulators issue.
const (
	testVEKey  = "VEKEYq7Zr2Lp9Wt6Yk8Nm3Hc5Jd1Fg0Ss2xRv4Bn"
	testSecret = "SECRETz8Qw3Er5Ty7Ui9Op1As2Df4Gh6Jk8Lz0Xc"
)

// platform is one platform's emulator, token source and API, seen the same way by every test.
type platform struct {
	name   string
	policy shoptoken.Policy
	src    *counting // the source given to Use
	wire   *wire     // the resty client's base transport, in front of the emulator
	// post sends API request i (its body names i) on r.
	post func(r *resty.Request, i int) (*resty.Response, error)
	// accepted reports whether resp is the API's success answer to request i.
	accepted func(resp *resty.Response, i int) bool
	// rejection reports whether resp is the platform's rejection of the token.
	rejection func(resp *resty.Response) bool
	// reject makes the current token rejected from now on, and a new one obtainable (vip.com:
	// stored by another process, since a vip.com token cannot be refreshed).
	reject func()
	// rejectAgain makes the token the source holds now rejected too, without another to replace it.
	rejectAgain func()
	stats       func() shoptokentest.Stats
	resetStats  func()
	// refreshes is how many new tokens the source obtained since resetStats: token requests at the
	// emulator, and for vip.com the tokens adopted from the store.
	refreshes func() int
	secrets   []string // what the Policy attaches besides the token
}

// platforms are the four, each started fresh for t.
var platforms = []struct {
	name  string
	start func(t *testing.T) *platform
}{
	{"youzan", startYouzan},
	{"vvtool", startVVTool},
	{"vipauth", startVipAuth},
	{"veapi", startVeapi},
}

// client returns a resty client over p's wire, set up with restyauth.Use.
func (p *platform) client(t *testing.T) *resty.Client {
	t.Helper()
	c := resty.New().SetTransport(p.wire)
	require.NoError(t, restyauth.Use(c, p.src, p.policy))
	return c
}

// leakCheck returns every secret a test must not find in an output: each token the source
// handed out and the Policy's secrets.
func (p *platform) leakCheck() []string { return append(p.src.issued(), p.secrets...) }

func startYouzan(t *testing.T) *platform {
	emu := shoptokentest.NewYouzan(shoptokentest.WithCredentials("id", testSecret))
	t.Cleanup(emu.Close)
	cfg := youzan.Config{ClientID: "id", ClientSecret: testSecret, BaseURL: emu.URL}
	src, err := youzan.NewSource(cfg, shoptokentest.YouzanGrantID, shoptoken.WithMinInterval(0))
	require.NoError(t, err)
	t.Cleanup(src.Close)
	policy, err := youzan.APIPolicy(cfg)
	require.NoError(t, err)
	type answer struct {
		Success bool `json:"success"`
		Data    struct {
			Echo struct{ N int } `json:"echo"`
		} `json:"data"`
		GwErrResp *struct {
			ErrCode int `json:"err_code"`
		} `json:"gw_err_resp"`
	}
	decode := func(resp *resty.Response) (a answer) {
		_ = json.Unmarshal(resp.Body(), &a)
		return a
	}
	return &platform{
		name: "youzan", policy: policy, src: &counting{inv: src}, wire: newWire(emu.Client().Transport),
		post: func(r *resty.Request, i int) (*resty.Response, error) {
			return r.SetBody(map[string]int{"n": i}).Post(emu.URL + "/api/youzan.trade.get/4.0.2")
		},
		accepted: func(resp *resty.Response, i int) bool {
			a := decode(resp)
			return a.Success && a.Data.Echo.N == i
		},
		rejection: func(resp *resty.Response) bool {
			a := decode(resp)
			return a.GwErrResp != nil && a.GwErrResp.ErrCode >= 4201 && a.GwErrResp.ErrCode <= 4203
		},
		reject:      emu.ExpireNow,
		rejectAgain: emu.ExpireNow,
		stats:       emu.Stats,
		resetStats:  emu.ResetStats,
		refreshes:   func() int { return emu.Stats().TokenRequests },
	}
}

func startVVTool(t *testing.T) *platform {
	emu := shoptokentest.NewVVTool(shoptokentest.WithCredentials("account", testSecret))
	t.Cleanup(emu.Close)
	cfg := vvtool.Config{Account: "account", AccessKey: testSecret, TokenURL: emu.URL + "/oauth/token", HTTPClient: emu.Client()}
	src, err := vvtool.NewSource(cfg, shoptoken.WithMinInterval(0))
	require.NoError(t, err)
	t.Cleanup(src.Close)
	policy, err := vvtool.APIPolicy(cfg)
	require.NoError(t, err)
	return &platform{
		name: "vvtool", policy: policy, src: &counting{inv: src}, wire: newWire(emu.Client().Transport),
		post: func(r *resty.Request, i int) (*resty.Response, error) {
			return r.SetBody("n=" + strconv.Itoa(i)).Post(emu.URL + "/tool/members/info")
		},
		accepted: func(resp *resty.Response, _ int) bool {
			var a struct {
				Code int
				Data struct{ Account string }
			}
			return json.Unmarshal(resp.Body(), &a) == nil && a.Code == 0 && a.Data.Account == "account"
		},
		rejection: func(resp *resty.Response) bool {
			return resp.StatusCode() == http.StatusUnauthorized && bytes.Contains(resp.Body(), []byte(shoptokentest.VVToolInvalid))
		},
		reject:      emu.ExpireNow,
		rejectAgain: emu.ExpireNow,
		stats:       emu.Stats,
		resetStats:  emu.ResetStats,
		refreshes:   func() int { return emu.Stats().TokenRequests },
	}
}

func startVipAuth(t *testing.T) *platform {
	emu := shoptokentest.NewVipAuth(shoptokentest.WithCredentials("id", testSecret))
	t.Cleanup(emu.Close)
	cfg := vipauth.Config{ClientID: "id", ClientSecret: testSecret, RedirectURL: shoptokentest.VipAuthRedirectURI,
		BaseURL: emu.OAuthURL, HTTPClient: emu.Client()}
	ctx := context.Background()
	exchange := func() *shoptoken.Token {
		tok, err := cfg.Exchange(ctx, emu.NewCode(shoptokentest.VipAuthOpenID, cfg.RedirectURL), "127.0.0.1")
		require.NoError(t, err)
		return tok
	}
	// Two processes share a store: a serves the API calls, b stores the user's new authorization.
	store := shoptoken.NewMemoryStore()
	var adopted atomic.Int64
	first := exchange()
	a, err := vipauth.NewSource(cfg, first.Subject, shoptoken.WithToken(first), shoptoken.WithStore(store),
		shoptoken.WithMinInterval(0), shoptoken.WithEvents(func(e shoptoken.Event) {
			if e.Kind == shoptoken.EventAdopted {
				adopted.Add(1)
			}
		}))
	require.NoError(t, err)
	t.Cleanup(a.Close)
	b, err := vipauth.NewSource(cfg, first.Subject, shoptoken.WithStore(store))
	require.NoError(t, err)
	t.Cleanup(b.Close)
	policy, err := vipauth.APIPolicy(cfg)
	require.NoError(t, err)
	type answer struct {
		Code int
		Msg  string
		Data struct {
			OpenID string `json:"open_id"`
		}
	}
	return &platform{
		name: "vipauth", policy: policy, src: &counting{inv: a}, wire: newWire(emu.Client().Transport),
		post: func(r *resty.Request, i int) (*resty.Response, error) {
			return r.SetBody("n=" + strconv.Itoa(i)).Post(emu.URL + "/api/account/info")
		},
		accepted: func(resp *resty.Response, _ int) bool {
			var a answer
			return json.Unmarshal(resp.Body(), &a) == nil && a.Code == 0 && a.Data.OpenID == shoptokentest.VipAuthOpenID
		},
		rejection: func(resp *resty.Response) bool {
			var a answer
			return json.Unmarshal(resp.Body(), &a) == nil && a.Code == 30111
		},
		reject: func() {
			emu.RevokeUser(shoptokentest.VipAuthOpenID) // the user changed the password ...
			require.NoError(t, b.Set(ctx, exchange()))  // ... and authorized again, served by b
		},
		rejectAgain: func() { emu.RevokeUser(shoptokentest.VipAuthOpenID) },
		stats:       emu.Stats,
		resetStats: func() {
			emu.ResetStats()
			adopted.Store(0)
		},
		refreshes: func() int { return emu.Stats().TokenRequests + int(adopted.Load()) },
	}
}

func startVeapi(t *testing.T) *platform {
	emu := shoptokentest.NewVeapi(shoptokentest.WithCredentials(testVEKey, ""))
	t.Cleanup(emu.Close)
	cfg := veapi.Config{VEKey: testVEKey, App: "acct", BaseURL: emu.URL, HTTPClient: emu.Client()}
	src, err := veapi.NewSource(cfg, "shop-1",
		shoptoken.WithToken(&shoptoken.Token{RefreshToken: emu.NewGrant("shop-1"), Subject: "shop-1"}),
		shoptoken.WithStore(shoptoken.NewMemoryStore()), shoptoken.WithMinInterval(0))
	require.NoError(t, err)
	t.Cleanup(src.Close)
	policy, err := veapi.APIPolicy(cfg)
	require.NoError(t, err)
	return &platform{
		name: "veapi", policy: policy, src: &counting{inv: src}, wire: newWire(emu.Client().Transport),
		post: func(r *resty.Request, i int) (*resty.Response, error) {
			return r.SetFormData(map[string]string{"method": "m" + strconv.Itoa(i)}).Post(emu.URL + "/vip/api")
		},
		accepted: func(resp *resty.Response, i int) bool { return veapiAccepted(resp, "shop-1", "m"+strconv.Itoa(i)) },
		rejection: func(resp *resty.Response) bool {
			var a struct{ Error string }
			return json.Unmarshal(resp.Body(), &a) == nil &&
				(a.Error == shoptokentest.VeapiErrSessionInvalid || a.Error == shoptokentest.VeapiErrSessionExpired)
		},
		reject:      emu.ExpireNow,
		rejectAgain: emu.ExpireNow,
		stats:       emu.Stats,
		resetStats:  emu.ResetStats,
		refreshes:   func() int { return emu.Stats().TokenRequests },
		secrets:     []string{testVEKey},
	}
}

// veapiAccepted reports whether resp is the veapi emulator's success answer for subject's call of
// method.
func veapiAccepted(resp *resty.Response, subject, method string) bool {
	var a struct {
		Error string
		Data  struct{ Subject, Method string }
	}
	return json.Unmarshal(resp.Body(), &a) == nil && a.Error == "0" && a.Data.Subject == subject && a.Data.Method == method
}

// counting is a token source that counts the invalidations that reach it and remembers every
// token it handed out.
type counting struct {
	inv         shoptoken.Invalidator
	invalidated atomic.Int64
	mu          sync.Mutex
	seen        map[string]bool
}

func (c *counting) note(tok *shoptoken.Token) {
	if tok == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil {
		c.seen = map[string]bool{}
	}
	c.seen[tok.AccessToken] = true
}

func (c *counting) Token(ctx context.Context) (*shoptoken.Token, error) {
	tok, err := c.inv.Token(ctx)
	c.note(tok)
	return tok, err
}

func (c *counting) Invalidate(ctx context.Context, rejected *shoptoken.Token) (*shoptoken.Token, error) {
	c.invalidated.Add(1)
	tok, err := c.inv.Invalidate(ctx, rejected)
	c.note(tok)
	return tok, err
}

// issued returns every access token handed out.
func (c *counting) issued() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.seen))
	for s := range c.seen {
		out = append(out, s)
	}
	return out
}

// wire is the resty client's base transport: it records the body of every request it sends, and
// can act just before the nth (counted from 1 since the last reset).
type wire struct {
	base   http.RoundTripper
	n      atomic.Int64
	before atomic.Pointer[func(n int)]
	mu     sync.Mutex
	bodies []string
}

func newWire(base http.RoundTripper) *wire { return &wire{base: base} }

// RoundTrip implements http.RoundTripper.
func (w *wire) RoundTrip(r *http.Request) (*http.Response, error) {
	n := int(w.n.Add(1))
	if f := w.before.Load(); f != nil {
		(*f)(n)
	}
	if r.Body != nil && r.Body != http.NoBody {
		b, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			return nil, err
		}
		w.mu.Lock()
		w.bodies = append(w.bodies, string(b))
		w.mu.Unlock()
		r = r.Clone(r.Context())
		r.Body = io.NopCloser(bytes.NewReader(b))
	}
	return w.base.RoundTrip(r)
}

// reset forgets the count and bodies, and sets what to do before each request (nil: nothing).
func (w *wire) reset(before func(n int)) {
	w.mu.Lock()
	w.bodies = nil
	w.mu.Unlock()
	w.n.Store(0)
	if before == nil {
		w.before.Store(nil)
	} else {
		w.before.Store(&before)
	}
}

// sent returns the bodies sent since the last reset.
func (w *wire) sent() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.bodies...)
}

// restyLog is a resty.Logger writing every line into one buffer.
type restyLog struct{ buf testkit.LogBuffer }

func (l *restyLog) Errorf(format string, v ...any) { fmt.Fprintf(&l.buf, "ERROR "+format+"\n", v...) }
func (l *restyLog) Warnf(format string, v ...any)  { fmt.Fprintf(&l.buf, "WARN "+format+"\n", v...) }
func (l *restyLog) Debugf(format string, v ...any) { fmt.Fprintf(&l.buf, "DEBUG "+format+"\n", v...) }
