package reauth_test

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/reauth"
	"github.com/shoptoken/shoptoken/shops"
	"github.com/shoptoken/shoptoken/shoptokentest"
	"github.com/shoptoken/shoptoken/youzan"
)

func TestHandler_youzanTool(t *testing.T) {
	e := newEnv(t)
	before := e.seedYouzan()
	e.yz.ResetStats()
	k := e.yzKey()

	b := e.browser()
	p := b.get(e.link(k, 72*time.Hour))
	assertPage(t, p, http.StatusOK, "authorized", "授权成功", "Authorized", "有赞店铺 "+k.Shop, "Shop "+k.Shop+" on Youzan")
	assert.Equal(t, "/reauth/callback", p.url.Path)

	after := e.load(k)
	require.NotNil(t, after.tok)
	assert.Greater(t, after.version, before.version)
	assert.Equal(t, k.Shop, after.tok.Subject)
	assert.NotEqual(t, before.tok.AccessToken, after.tok.AccessToken)
	assert.True(t, e.yz.Valid(after.tok.AccessToken), "the stored token is the one the platform issued last")
	assert.NotEmpty(t, after.tok.RefreshToken)
	assert.Equal(t, shoptokentest.Stats{TokenRequests: 1, Issued: 1}, e.yz.Stats(), "one exchange")
	assert.Equal(t, []shoptoken.Key{k}, e.authorized.All())
	assert.Zero(t, e.failed.Len())

	// Another process of the fleet, on the same store, serves the new token without a platform
	// call: the token was saved before the page said so.
	other, err := youzan.NewToolApp(e.yzCfg, shops.WithStore(e.store))
	require.NoError(t, err)
	defer other.Close()
	tok, err := other.Token(context.Background(), k.Shop)
	require.NoError(t, err)
	assert.Equal(t, after.tok.AccessToken, tok.AccessToken)
	assert.Equal(t, 1, e.yz.Stats().TokenRequests)
	assert.Contains(t, e.logs.String(), "reauth: shop authorized again")
}

func TestHandler_vipAuth(t *testing.T) {
	e := newEnv(t)
	k := e.vipKey()
	require.Nil(t, e.load(k).tok)

	p := e.browser().get(e.link(k, time.Hour))
	assertPage(t, p, http.StatusOK, "authorized", "唯品会店铺 "+k.Shop, "on vip.com")
	got := e.load(k)
	require.NotNil(t, got.tok)
	assert.Equal(t, k.Shop, got.tok.Subject)
	assert.True(t, e.vip.Valid(got.tok.AccessToken))
	assert.Equal(t, []shoptoken.Key{k}, e.authorized.All())
	tok, err := e.vipApp.Token(context.Background(), k.Shop)
	require.NoError(t, err)
	assert.Equal(t, got.tok.AccessToken, tok.AccessToken)
}

// assertUnchanged checks that the store holds what it held before for k, and that nothing was
// authorized.
func assertUnchanged(t *testing.T, e *env, k shoptoken.Key, before stored) {
	t.Helper()
	now := e.load(k)
	assert.Equal(t, before.version, now.version, "stored version")
	if before.tok == nil {
		assert.Nil(t, now.tok)
	} else if assert.NotNil(t, now.tok) {
		assert.Equal(t, before.tok.AccessToken, now.tok.AccessToken)
	}
	assert.Zero(t, e.authorized.Len(), "OnAuthorized")
}

// lastFailure returns the last OnFailed call.
func lastFailure(t *testing.T, e *env) failure {
	t.Helper()
	all := e.failed.All()
	require.NotEmpty(t, all, "OnFailed was not called")
	return all[len(all)-1]
}

func TestHandler_stateMismatch(t *testing.T) {
	e := newEnv(t)
	before := e.seedYouzan()
	k := e.yzKey()

	t.Run("callback in a browser without the flow cookie", func(t *testing.T) {
		cb := e.browser().toCallback(e.link(k, time.Hour))
		p := e.browser().get(cb) // another browser: the attacker's link in the victim's
		assertPage(t, p, http.StatusForbidden, "state-mismatch", "无法确认此次授权", "could not be verified", "Nothing was changed")
		assert.ErrorIs(t, lastFailure(t, e).err, reauth.ErrStateMismatch)
		assert.ErrorIs(t, lastFailure(t, e).err, shoptoken.ErrBadRequest)
		assertUnchanged(t, e, k, before)
	})
	t.Run("state altered", func(t *testing.T) {
		b := e.browser()
		cb, err := url.Parse(b.toCallback(e.link(k, time.Hour)))
		require.NoError(t, err)
		q := cb.Query()
		st := []byte(q.Get("state"))
		st[len(st)-1] ^= 1 // same flow id, another secret
		q.Set("state", string(st))
		cb.RawQuery = q.Encode()
		assertPage(t, b.get(cb.String()), http.StatusForbidden, "state-mismatch")
		assertUnchanged(t, e, k, before)
	})
	t.Run("state missing", func(t *testing.T) {
		b := e.browser()
		cb, err := url.Parse(b.toCallback(e.link(k, time.Hour)))
		require.NoError(t, err)
		q := cb.Query()
		q.Del("state")
		cb.RawQuery = q.Encode()
		assertPage(t, b.get(cb.String()), http.StatusForbidden, "state-mismatch")
		assertUnchanged(t, e, k, before)
	})
	t.Run("the attacker's own code and state in the victim's browser", func(t *testing.T) {
		victim := e.browser()
		victim.toCallback(e.link(k, time.Hour)) // the victim has a flow cookie of their own
		attackerCB := e.browser().toCallback(e.link(k, time.Hour))
		assertPage(t, victim.get(attackerCB), http.StatusForbidden, "state-mismatch")
		assertUnchanged(t, e, k, before)
	})
	assert.Equal(t, 0, e.yz.Stats().TokenRequests-1, "no code was exchanged (1: the seed)")
}

func TestHandler_replay(t *testing.T) {
	e := newEnv(t)
	k := e.yzKey()
	link := e.link(k, time.Hour)
	b := e.browser()
	cb := b.toCallback(link)
	cookies := b.c.Jar.Cookies(mustURL(t, e.h.CallbackURL()))
	require.Len(t, cookies, 1, "one flow cookie")
	assertPage(t, b.get(cb), http.StatusOK, "authorized")
	done := e.load(k)
	e.authorized.Reset()
	e.yz.ResetStats()

	t.Run("the callback again, the flow cookie put back", func(t *testing.T) {
		for _, c := range cookies {
			c.Path = "/reauth/" // as the handler set it
		}
		b.c.Jar.SetCookies(mustURL(t, e.h.CallbackURL()), cookies) // the callback cleared it; a replay brings it
		p := b.get(cb)
		assertPage(t, p, http.StatusConflict, "already-handled", "此授权已处理", "already handled")
		assert.ErrorIs(t, lastFailure(t, e).err, reauth.ErrStateUsed)
		assertUnchanged(t, e, k, done)
	})
	t.Run("the callback again, as the browser has it (the cookie is gone)", func(t *testing.T) {
		assertPage(t, b.get(cb), http.StatusForbidden, "state-mismatch")
		assertUnchanged(t, e, k, done)
	})
	t.Run("the link again", func(t *testing.T) {
		p := e.browser().get(link)
		assertPage(t, p, http.StatusConflict, "link-used", "链接已使用", "already been used")
		assert.Equal(t, "/reauth/start", p.url.Path, "not sent to the platform")
		assert.ErrorIs(t, lastFailure(t, e).err, reauth.ErrLinkUsed)
		assertUnchanged(t, e, k, done)
	})
	t.Run("a second flow started before the first finished", func(t *testing.T) {
		e2 := newEnv(t)
		k := e2.yzKey()
		link := e2.link(k, time.Hour)
		first, second := e2.browser(), e2.browser()
		cb1, cb2 := first.toCallback(link), second.toCallback(link)
		assertPage(t, first.get(cb1), http.StatusOK, "authorized")
		done := e2.load(k)
		e2.authorized.Reset()
		e2.yz.ResetStats()
		assertPage(t, second.get(cb2), http.StatusConflict, "link-used")
		assertUnchanged(t, e2, k, done)
		assert.Zero(t, e2.yz.Stats().TokenRequests, "the second code is never exchanged")
	})
	assert.Zero(t, e.yz.Stats().TokenRequests, "no code was exchanged")
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	require.NoError(t, err)
	return u
}

func TestHandler_expired(t *testing.T) {
	e := newEnv(t)
	before := e.seedYouzan()
	k := e.yzKey()

	t.Run("link", func(t *testing.T) {
		link := e.link(k, time.Hour)
		e.clk.Advance(time.Hour)
		p := e.browser().get(link)
		assertPage(t, p, http.StatusGone, "link-expired", "链接已过期", "This link has expired")
		assert.ErrorIs(t, lastFailure(t, e).err, reauth.ErrLinkExpired)
		assertUnchanged(t, e, k, before)
	})
	t.Run("flow: back from the platform after FlowTTL", func(t *testing.T) {
		b := e.browser()
		cb := b.toCallback(e.link(k, time.Hour))
		e.clk.Advance(reauth.DefaultFlowTTL + time.Second)
		assertPage(t, b.get(cb), http.StatusGone, "flow-expired", "授权超时", "took too long")
		assert.ErrorIs(t, lastFailure(t, e).err, reauth.ErrFlowExpired)
		assertUnchanged(t, e, k, before)
	})
}

func TestHandler_otherShop(t *testing.T) {
	e := newEnv(t)
	before := e.seedYouzan()
	k := e.yzKey()

	t.Run("the merchant authorizes another shop", func(t *testing.T) {
		link := e.link(k, time.Hour)
		e.yz.ConsentAs("99999")
		p := e.browser().get(link)
		assertPage(t, p, http.StatusForbidden, "other-shop", "授权的店铺与链接不符", "authorized another shop", k.Shop)
		assert.ErrorIs(t, lastFailure(t, e).err, reauth.ErrOtherShop)
		assertUnchanged(t, e, k, before)
		assert.Nil(t, e.load(e.yzApp.Key("99999")).tok, "nor stored under the other shop")

		e.yz.ConsentAs(shoptokentest.YouzanGrantID)
		assertPage(t, e.browser().get(link), http.StatusOK, "authorized") // the link was given back
		e.authorized.Reset()
		before = e.load(k)
	})
}

func TestHandler_unknownApp(t *testing.T) {
	e := newEnv(t)
	before := e.seedYouzan()
	k := e.yzKey()
	// A handler for the Youzan app alone, with the same signing key: a vip.com link, or one for
	// another Youzan app, is signed but not its own.
	only, err := reauth.New(reauth.Config{BaseURL: e.srv.URL + "/reauth", SigningKey: []byte(signingKey), Store: e.store,
		Clock: e.clk, OnFailed: func(k shoptoken.Key, err error) { e.failed.Record(failure{k, err}) }},
		reauth.YouzanTool(e.yzCfg, e.yzApp))
	require.NoError(t, err)
	assertPage(t, serve(t, only, e.link(e.vipKey(), time.Hour)), http.StatusNotFound, "unknown-app",
		"链接不适用于此服务", "not for this service")
	assert.ErrorIs(t, lastFailure(t, e).err, reauth.ErrUnknownApp)
	assert.Equal(t, http.StatusFound, serve(t, only, e.link(k, time.Hour)).status, "its own app's link")
	// Another Youzan app of the ISV (its own client_id), whose handler shares the signing key.
	cfg2 := e.yzCfg
	cfg2.ClientID = "id2"
	app2, err := youzan.NewToolApp(cfg2, shops.WithStore(e.store))
	require.NoError(t, err)
	defer app2.Close()
	h2, err := reauth.New(reauth.Config{BaseURL: e.srv.URL + "/reauth", SigningKey: []byte(signingKey), Clock: e.clk},
		reauth.YouzanTool(cfg2, app2))
	require.NoError(t, err)
	link2, err := h2.Link(app2.Key(k.Shop), time.Hour) // the same shop, another app
	require.NoError(t, err)
	assertPage(t, serve(t, e.h, link2), http.StatusNotFound, "unknown-app")
	assert.Equal(t, app2.Key(k.Shop), lastFailure(t, e).key)

	_, err = only.Link(e.vipKey(), time.Hour)
	require.ErrorIs(t, err, shoptoken.ErrBadRequest)
	_, err = only.Link(shoptoken.Key{Platform: "youzan", App: "another-app", Shop: k.Shop}, time.Hour)
	require.ErrorIs(t, err, shoptoken.ErrBadRequest)
	assertUnchanged(t, e, k, before)
}

// serve runs one GET of u on h directly.
func serve(t *testing.T, h http.Handler, u string) page {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return page{status: rec.Code, body: rec.Body.String(), header: rec.Header(), url: req.URL}
}

func TestHandler_tampered(t *testing.T) {
	e := newEnv(t)
	before := e.seedYouzan()
	k := e.yzKey()
	link := e.link(k, time.Hour)
	u := mustURL(t, link)
	tok := u.Query().Get("link")
	body, sig, ok := strings.Cut(tok, ".")
	require.True(t, ok)
	raw, err := base64.RawURLEncoding.DecodeString(body)
	require.NoError(t, err)
	require.Contains(t, string(raw), `"youzan/id/88888"`)
	otherShop := base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(raw), "88888", "12345", 1)))
	later := base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(raw), `"x":1`, `"x":9`, 1)))

	otherKey, err := reauth.New(reauth.Config{BaseURL: e.srv.URL + "/reauth", SigningKey: []byte(strings.ToUpper(signingKey))},
		reauth.YouzanTool(e.yzCfg, e.yzApp))
	require.NoError(t, err)
	foreign, err := otherKey.Link(k, time.Hour)
	require.NoError(t, err)

	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	for name, t2 := range map[string]string{
		"signature altered":       body + "." + flip(sig, 5),
		"payload altered":         flip(body, 10) + "." + sig,
		"another shop, same sig":  otherShop + "." + sig,
		"a later expiry":          later + "." + sig,
		"no signature":            body,
		"empty":                   "",
		"signed with another key": mustURL(t, foreign).Query().Get("link"),
		"huge":                    strings.Repeat("A", 5000) + "." + sig,
	} {
		p := e.browser().get(e.srv.URL + "/reauth/start?link=" + url.QueryEscape(t2))
		assertPage(t, p, http.StatusBadRequest, "link-invalid", "链接无效", "This link is not valid")
		assert.ErrorIs(t, lastFailure(t, e).err, reauth.ErrLinkInvalid, name)
		assert.Equal(t, shoptoken.Key{}, lastFailure(t, e).key, name)
	}
	assertUnchanged(t, e, k, before)
	assert.Nil(t, e.load(e.yzApp.Key("12345")).tok)
	assertPage(t, e.browser().get(link), http.StatusOK, "authorized") // the genuine link still works
}

func TestHandler_denied(t *testing.T) {
	e := newEnv(t)
	before := e.seedYouzan()
	e.yz.ResetStats()
	k := e.yzKey()
	link := e.link(k, time.Hour)

	e.yz.DenyNext()
	p := e.browser().get(link)
	assertPage(t, p, http.StatusForbidden, "denied", "您已拒绝授权", "You declined the authorization", "有赞店铺 "+k.Shop)
	f := lastFailure(t, e)
	assert.Equal(t, k, f.key)
	assert.ErrorIs(t, f.err, reauth.ErrDenied)
	assert.ErrorIs(t, f.err, shoptoken.ErrReauthorize)
	assertUnchanged(t, e, k, before)
	assert.Zero(t, e.yz.Stats().TokenRequests)

	e.vip.DenyNext()
	vk := e.vipKey()
	assertPage(t, e.browser().get(e.link(vk, time.Hour)), http.StatusForbidden, "denied", "唯品会店铺 "+vk.Shop)
	assertUnchanged(t, e, vk, stored{})

	// The merchant changes their mind: the same link works.
	assertPage(t, e.browser().get(link), http.StatusOK, "authorized")
}

// TestHandler_doubleSubmit sends one callback many times at once, as a double click or a
// browser's retry does: exactly one exchanges the code and saves, the others are refused before
// the code goes anywhere.
func TestHandler_doubleSubmit(t *testing.T) {
	e := newEnv(t)
	before := e.seedYouzan()
	e.yz.ResetStats()
	k := e.yzKey()
	b := e.browser()
	cb := b.toCallback(e.link(k, time.Hour))
	cookies := b.c.Jar.Cookies(mustURL(t, e.h.CallbackURL()))

	const n = 12
	pages := make([]page, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, err := http.NewRequest(http.MethodGet, cb, nil)
			if !assert.NoError(t, err) {
				return
			}
			for _, c := range cookies {
				req.AddCookie(c)
			}
			<-start
			resp, err := http.DefaultClient.Do(req)
			if !assert.NoError(t, err) {
				return
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			assert.NoError(t, err)
			pages[i] = page{status: resp.StatusCode, body: string(body), header: resp.Header}
		}()
	}
	close(start)
	wg.Wait()
	count := map[string]int{}
	for _, p := range pages {
		count[p.reason()]++
		if p.reason() == "already-handled" {
			assertPage(t, p, http.StatusConflict, "already-handled")
		}
	}
	assert.Equal(t, map[string]int{"authorized": 1, "already-handled": n - 1}, count)
	assert.Equal(t, shoptokentest.Stats{TokenRequests: 1, Issued: 1}, e.yz.Stats(), "the code was exchanged once")
	after := e.load(k)
	assert.Equal(t, before.version+1, after.version, "saved once")
	assert.True(t, e.yz.Valid(after.tok.AccessToken))
	assert.Equal(t, 1, e.authorized.Len())
	assert.Equal(t, n-1, e.failed.Count(func(f failure) bool { return errors.Is(f.err, reauth.ErrStateUsed) }))
}

func TestHandler_platformFailure(t *testing.T) {
	e := newEnv(t)
	before := e.seedYouzan()
	k := e.yzKey()
	link := e.link(k, time.Hour)

	e.yz.FailNext(shoptokentest.FaultUnavailable, 1)
	p := e.browser().get(link)
	assertPage(t, p, http.StatusBadGateway, "platform-error", "平台未完成授权", "did not complete")
	assert.ErrorIs(t, lastFailure(t, e).err, shoptoken.ErrUnavailable)
	assertUnchanged(t, e, k, before)

	// The link was given back: the merchant tries again.
	assertPage(t, e.browser().get(link), http.StatusOK, "authorized")
}

func TestHandler_storeDown(t *testing.T) {
	down := &failingStore{MemoryStore: shoptoken.NewMemoryStore()}
	e := newEnv(t, func(c *reauth.Config) { c.Store = down })
	k := e.yzKey()
	link := e.link(k, time.Hour)
	down.fail.Store(true)
	assertPage(t, e.browser().get(link), http.StatusServiceUnavailable, "unavailable", "暂时无法完成授权")
	assert.ErrorIs(t, lastFailure(t, e).err, shoptoken.ErrUnavailable)

	b := e.browser()
	down.fail.Store(false)
	cb := b.toCallback(link)
	down.fail.Store(true)
	assertPage(t, b.get(cb), http.StatusServiceUnavailable, "unavailable")
	assertUnchanged(t, e, k, stored{})
	assert.Zero(t, e.yz.Stats().TokenRequests, "no exchange without the marker")
}

func TestHandler_methodsAndPaths(t *testing.T) {
	e := newEnv(t)
	link := e.link(e.yzKey(), time.Hour)
	for _, tc := range []struct {
		method, url string
		status      int
		reason      string
	}{
		{http.MethodPost, link, http.StatusMethodNotAllowed, "method-not-allowed"},
		{http.MethodHead, e.h.CallbackURL() + "?code=x&state=y", http.StatusMethodNotAllowed, ""},
		{http.MethodPost, e.h.CallbackURL(), http.StatusMethodNotAllowed, "method-not-allowed"},
		{http.MethodGet, e.srv.URL + "/reauth/", http.StatusNotFound, "not-found"},
		{http.MethodGet, e.srv.URL + "/reauth/start/x", http.StatusNotFound, "not-found"},
	} {
		req, err := http.NewRequest(tc.method, tc.url, nil)
		require.NoError(t, err)
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, req)
		assert.Equal(t, tc.status, rec.Code, "%s %s", tc.method, tc.url)
		if tc.reason != "" {
			assert.Contains(t, rec.Body.String(), `data-reason="`+tc.reason+`"`)
		}
	}
	// A HEAD of a link (a link checker) writes nothing and the link stays good.
	req, err := http.NewRequest(http.MethodHead, link, nil)
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	assert.Equal(t, http.StatusFound, rec.Code)
	assertPage(t, e.browser().get(link), http.StatusOK, "authorized")
}

// failingStore is a MemoryStore that fails every call while fail is set.
type failingStore struct {
	*shoptoken.MemoryStore
	fail atomic.Bool
}

var errDown = errors.New("store down")

func (s *failingStore) Load(ctx context.Context, key string) (*shoptoken.Token, int64, error) {
	if s.fail.Load() {
		return nil, 0, errDown
	}
	return s.MemoryStore.Load(ctx, key)
}

func (s *failingStore) Save(ctx context.Context, key string, tok *shoptoken.Token, prev int64) (int64, error) {
	if s.fail.Load() {
		return 0, errDown
	}
	return s.MemoryStore.Save(ctx, key, tok, prev)
}
