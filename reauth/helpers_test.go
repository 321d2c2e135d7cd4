package reauth_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/testkit"
	"github.com/shoptoken/shoptoken/reauth"
	"github.com/shoptoken/shoptoken/shops"
	"github.com/shoptoken/shoptoken/shoptokentest"
	"github.com/shoptoken/shoptoken/vipauth"
	"github.com/shoptoken/shoptoken/youzan"
)

// signingKey is the tests' HMAC key: printable, so that NoSecret can look for it.
const signingKey = "test-signing-key-0123456789-abcdefghijklmnop"

// failure is one OnFailed call.
type failure struct {
	key shoptoken.Key
	err error
}

// env is an ISV's web app with the Handler mounted at /reauth/, a Youzan tool app and a vip.com
// application on strict emulators, one MemoryStore for tokens and markers, and one clock.
type env struct {
	t      *testing.T
	srv    *httptest.Server
	h      *reauth.Handler
	clk    *shoptokentest.Clock
	store  *shoptoken.MemoryStore
	yz     *shoptokentest.Youzan
	yzCfg  youzan.Config
	yzApp  *youzan.App
	vip    *shoptokentest.VipAuth
	vipCfg vipauth.Config
	vipApp *vipauth.App

	authorized testkit.Recorder[shoptoken.Key]
	failed     testkit.Recorder[failure]
	logs       *testkit.LogBuffer

	mu      sync.Mutex
	secrets []string // every code, state and token seen, and the signing key
	pages   []string // every page served
}

type envOption func(*reauth.Config)

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	e := &env{t: t, clk: shoptokentest.NewClock(time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)), store: shoptoken.NewMemoryStore(),
		secrets: []string{signingKey}}
	var handler http.Handler = http.NotFoundHandler()
	mux := http.NewServeMux()
	mux.Handle("/reauth/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, r)
		e.mu.Lock()
		e.pages = append(e.pages, rec.Body.String())
		e.mu.Unlock()
		for k, vs := range rec.Header() {
			w.Header()[k] = vs
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}))
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	callback := e.srv.URL + "/reauth/callback"

	e.yz = shoptokentest.NewYouzan(shoptokentest.WithClock(e.clk), shoptokentest.WithRedirectURIs(callback))
	t.Cleanup(e.yz.Close)
	e.yzCfg = youzan.Config{ClientID: "id", ClientSecret: "secret", BaseURL: e.yz.URL, AuthorizeURL: e.yz.AuthorizeURL,
		HTTPClient: e.yz.Client(), Clock: e.clk}
	var err error
	e.yzApp, err = youzan.NewToolApp(e.yzCfg, shops.WithStore(e.store))
	require.NoError(t, err)
	t.Cleanup(e.yzApp.Close)

	e.vip = shoptokentest.NewVipAuth(shoptokentest.WithClock(e.clk), shoptokentest.WithRedirectURIs(callback),
		shoptokentest.WithCredentials("vip-id", "vip-secret"))
	t.Cleanup(e.vip.Close)
	e.vipCfg = vipauth.Config{ClientID: "vip-id", ClientSecret: "vip-secret", BaseURL: e.vip.OAuthURL, HTTPClient: e.vip.Client(), Clock: e.clk}
	e.vipApp, err = vipauth.NewApp(e.vipCfg, shops.WithStore(e.store))
	require.NoError(t, err)
	t.Cleanup(e.vipApp.Close)

	logger, logs := testkit.Logger()
	e.logs = logs
	cfg := reauth.Config{
		BaseURL:    e.srv.URL + "/reauth",
		SigningKey: []byte(signingKey),
		Store:      e.store,
		Clock:      e.clk,
		Logger:     logger,
		OnAuthorized: func(k shoptoken.Key, tok *shoptoken.Token) {
			e.authorized.Record(k)
			e.secret(tok.AccessToken, tok.RefreshToken)
		},
		OnFailed: func(k shoptoken.Key, err error) { e.failed.Record(failure{k, err}) },
	}
	for _, o := range opts {
		o(&cfg)
	}
	e.h, err = reauth.New(cfg, reauth.YouzanTool(e.yzCfg, e.yzApp), reauth.VipAuth(e.vipCfg, e.vipApp))
	require.NoError(t, err)
	require.Equal(t, callback, e.h.CallbackURL())
	handler = e.h
	t.Cleanup(e.noSecret)
	return e
}

// secret adds values that must never show.
func (e *env) secret(s ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, v := range s {
		if v != "" {
			e.secrets = append(e.secrets, v)
		}
	}
}

// noSecret checks, at the end of the test, every page, log record and error reported.
func (e *env) noSecret() {
	e.mu.Lock()
	outs := append([]string{e.logs.String()}, e.pages...)
	secrets := append([]string(nil), e.secrets...)
	e.mu.Unlock()
	for _, f := range e.failed.All() {
		outs = append(outs, testkit.ErrorTexts(f.err)...)
	}
	testkit.NoSecret(e.t, "pages, logs and errors", secrets, outs...)
}

// yzKey and vipKey are the Keys of the emulators' consenting shop and user.
func (e *env) yzKey() shoptoken.Key  { return e.yzApp.Key(shoptokentest.YouzanGrantID) }
func (e *env) vipKey() shoptoken.Key { return e.vipApp.Key(shoptokentest.VipAuthOpenID) }

func (e *env) link(k shoptoken.Key, ttl time.Duration) string {
	e.t.Helper()
	l, err := e.h.Link(k, ttl)
	require.NoError(e.t, err)
	return l
}

// stored is what the store holds under k: the token (nil for none) and its version.
type stored struct {
	tok     *shoptoken.Token
	version int64
}

func (e *env) load(k shoptoken.Key) stored {
	e.t.Helper()
	tok, v, err := e.store.Load(context.Background(), k.String())
	if errors.Is(err, shoptoken.ErrNotFound) {
		return stored{}
	}
	require.NoError(e.t, err)
	return stored{tok, v}
}

// seed stores a first token for k, as an earlier authorization would have, and returns it.
func (e *env) seedYouzan() stored {
	e.t.Helper()
	tok, err := e.yzCfg.ExchangeCode(context.Background(), e.yz.NewCode(shoptokentest.YouzanGrantID), e.h.CallbackURL())
	require.NoError(e.t, err)
	require.NoError(e.t, e.yzApp.Set(context.Background(), shoptokentest.YouzanGrantID, tok))
	e.secret(tok.AccessToken, tok.RefreshToken)
	return e.load(e.yzKey())
}

// browser is an http.Client with a cookie jar that records every URL it is sent to, and the
// secrets in them (codes and states).
type browser struct {
	e    *env
	c    *http.Client
	seen []*url.URL
	stop func(*url.URL) bool // stop before following a redirect to this URL
}

func (e *env) browser() *browser {
	jar, err := cookiejar.New(nil)
	require.NoError(e.t, err)
	b := &browser{e: e}
	b.c = &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		b.record(req.URL)
		if b.stop != nil && b.stop(req.URL) {
			return http.ErrUseLastResponse
		}
		if len(via) > 10 {
			return errors.New("too many redirects")
		}
		return nil
	}}
	return b
}

func (b *browser) record(u *url.URL) {
	b.seen = append(b.seen, u)
	q := u.Query()
	b.e.secret(q.Get("code"), q.Get("state"))
}

// page is an answer as the merchant sees it.
type page struct {
	status int
	body   string
	header http.Header
	url    *url.URL // where the browser ended
}

var reasonRE = regexp.MustCompile(`data-reason="([^"]*)"`)

// reason is the page's data-reason.
func (p page) reason() string {
	m := reasonRE.FindStringSubmatch(p.body)
	if m == nil {
		return ""
	}
	return m[1]
}

func (b *browser) get(u string) page {
	b.e.t.Helper()
	pu, err := url.Parse(u)
	require.NoError(b.e.t, err)
	b.record(pu)
	resp, err := b.c.Get(u)
	require.NoError(b.e.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(b.e.t, err)
	return page{status: resp.StatusCode, body: string(body), header: resp.Header, url: resp.Request.URL}
}

// toCallback opens link and follows the redirects up to (not into) the callback, and returns the
// callback URL the platform sent the browser to.
func (b *browser) toCallback(link string) string {
	b.e.t.Helper()
	b.stop = func(u *url.URL) bool { return u.Path == "/reauth/callback" }
	defer func() { b.stop = nil }()
	p := b.get(link)
	require.Equal(b.e.t, http.StatusFound, p.status, "page: %s", p.body)
	loc := p.header.Get("Location")
	require.True(b.e.t, strings.HasPrefix(loc, b.e.h.CallbackURL()+"?"), "redirect to %s", loc)
	return loc
}

// assertPage checks a page's status, reason, both languages and the headers every page has.
func assertPage(t *testing.T, p page, status int, reason string, texts ...string) {
	t.Helper()
	assert.Equal(t, status, p.status, "status; page: %s", p.body)
	assert.Equal(t, reason, p.reason(), "reason")
	assert.Equal(t, "text/html; charset=utf-8", p.header.Get("Content-Type"))
	assert.Equal(t, "no-store", p.header.Get("Cache-Control"))
	assert.Equal(t, "no-referrer", p.header.Get("Referrer-Policy"))
	assert.Contains(t, p.header.Get("Content-Security-Policy"), "default-src 'none'")
	assert.Contains(t, p.body, `<html lang="zh-CN">`)
	assert.Contains(t, p.body, `<section lang="en"`)
	assert.NotContains(t, p.body, "<script")
	assert.NotRegexp(t, `(src|href)=`, p.body, "no external asset, no link")
	for _, s := range texts {
		assert.Contains(t, p.body, s)
	}
}
