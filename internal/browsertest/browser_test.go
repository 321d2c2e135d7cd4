package browsertest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
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

// chromium returns the path of a Chromium to drive, or skips the test (fails it when
// SHOPTOKEN_REQUIRE_BROWSER=1).
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("SHOPTOKEN_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "!!! NO BROWSER: Chromium was not found (install Debian's chromium package, or set SHOPTOKEN_CHROMIUM); " +
		"the re-authorization browser test did NOT run"
	if os.Getenv("SHOPTOKEN_REQUIRE_BROWSER") == "1" {
		t.Fatal(msg + ", and SHOPTOKEN_REQUIRE_BROWSER=1 makes that a failure")
	}
	fmt.Fprintln(os.Stderr, msg)
	t.Skip(msg)
	return ""
}

// newBrowser starts a headless Chromium with a fresh profile and returns a context to drive it.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path := chromium(t)
	// A fresh profile, removed after the browser has exited: not t.TempDir, whose removal can
	// race Chromium's helper processes still writing to it.
	profile, err := os.MkdirTemp("", "shoptoken-browsertest-")
	require.NoError(t, err)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox, // CI runs as root, where Chromium's sandbox cannot start
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(profile),
		chromedp.Flag("disable-background-networking", true), // no traffic but the test's own
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("disable-dev-shm-usage", true),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() {
		_ = chromedp.Cancel(ctx) // closes the browser and waits for it
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
		for i := 0; i < 20; i++ {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("the profile %s could not be removed", profile)
	})
	require.NoError(t, chromedp.Run(ctx), "start Chromium at %s", path)
	return ctx
}

// isv is an ISV's web app with the re-authorization handler mounted at /reauth/, reached by the
// browser as http://localhost:PORT: another site than the emulators' http://127.0.0.1:PORT, so
// that the platform's redirect back to the callback is a cross-site navigation, the case the
// flow cookie's SameSite=Lax must survive.
type isv struct {
	srv   *httptest.Server
	base  string // http://localhost:PORT/reauth
	h     *reauth.Handler
	store *shoptoken.MemoryStore
	yz    *shoptokentest.Youzan
	yzApp *youzan.App
	vip   *shoptokentest.VipAuth
	vApp  *vipauth.App
	logs  *testkit.LogBuffer

	mu     sync.Mutex
	pages  []string
	secret []string
}

const signingKey = "browser-test-signing-key-0123456789abcdefghij"

func newISV(t *testing.T) *isv {
	t.Helper()
	s := &isv{store: shoptoken.NewMemoryStore(), secret: []string{signingKey}}
	var handler http.Handler = http.NotFoundHandler()
	mux := http.NewServeMux()
	mux.Handle("/reauth/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, r)
		s.mu.Lock()
		s.pages = append(s.pages, rec.Body.String())
		q := r.URL.Query()
		s.secret = append(s.secret, q.Get("code"), q.Get("state"))
		s.mu.Unlock()
		for k, vs := range rec.Header() {
			w.Header()[k] = vs
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}))
	s.srv = httptest.NewServer(mux)
	t.Cleanup(s.srv.Close)
	_, port, err := net.SplitHostPort(s.srv.Listener.Addr().String())
	require.NoError(t, err)
	s.base = "http://localhost:" + port + "/reauth"
	callback := s.base + "/callback"

	s.yz = shoptokentest.NewYouzan(shoptokentest.WithConsentPage(), shoptokentest.WithRedirectURIs(callback))
	t.Cleanup(s.yz.Close)
	yzCfg := youzan.Config{ClientID: "id", ClientSecret: "secret", BaseURL: s.yz.URL, AuthorizeURL: s.yz.AuthorizeURL, HTTPClient: s.yz.Client()}
	s.yzApp, err = youzan.NewToolApp(yzCfg, shops.WithStore(s.store))
	require.NoError(t, err)
	t.Cleanup(s.yzApp.Close)

	s.vip = shoptokentest.NewVipAuth(shoptokentest.WithConsentPage(), shoptokentest.WithRedirectURIs(callback))
	t.Cleanup(s.vip.Close)
	vipCfg := vipauth.Config{ClientID: "id", ClientSecret: "secret", BaseURL: s.vip.OAuthURL, HTTPClient: s.vip.Client()}
	s.vApp, err = vipauth.NewApp(vipCfg, shops.WithStore(s.store))
	require.NoError(t, err)
	t.Cleanup(s.vApp.Close)

	logger, logs := testkit.Logger()
	s.logs = logs
	s.h, err = reauth.New(reauth.Config{BaseURL: s.base, SigningKey: []byte(signingKey), Store: s.store, Logger: logger,
		OnAuthorized: func(_ shoptoken.Key, tok *shoptoken.Token) {
			s.mu.Lock()
			s.secret = append(s.secret, tok.AccessToken, tok.RefreshToken)
			s.mu.Unlock()
		}},
		reauth.YouzanTool(yzCfg, s.yzApp), reauth.VipAuth(vipCfg, s.vApp))
	require.NoError(t, err)
	handler = s.h
	t.Cleanup(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		var secrets []string
		for _, v := range s.secret {
			if v != "" {
				secrets = append(secrets, v)
			}
		}
		testkit.NoSecret(t, "pages and logs", secrets, append(s.pages, s.logs.String())...)
	})
	return s
}

func (s *isv) link(t *testing.T, k shoptoken.Key) string {
	t.Helper()
	l, err := s.h.Link(k, time.Hour)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(l, s.base+"/start?link="))
	return l
}

func (s *isv) load(t *testing.T, k shoptoken.Key) (*shoptoken.Token, int64) {
	t.Helper()
	tok, v, err := s.store.Load(context.Background(), k.String())
	if errors.Is(err, shoptoken.ErrNotFound) {
		return nil, 0
	}
	require.NoError(t, err)
	return tok, v
}

// result is what the browser shows at the end of a flow.
type result struct {
	text, reason, location string
}

// handlerPage matches the body of every page the handler shows, success or failure.
const handlerPage = "body#reauth-success, body#reauth-failure"

// authorize opens link in the browser, waits for the platform's consent page, clicks button
// ("#authorize" or "#deny"), and waits for the handler's page, which must be want
// ("reauth-success" or "reauth-failure").
func authorize(t *testing.T, ctx context.Context, link, button, want string) result {
	t.Helper()
	var r result
	var id string
	var ok bool
	err := chromedp.Run(ctx,
		chromedp.Navigate(link),
		chromedp.WaitVisible(button, chromedp.ByQuery),
		chromedp.Click(button, chromedp.ByQuery),
		chromedp.WaitVisible(handlerPage, chromedp.ByQuery),
		chromedp.AttributeValue("body", "id", &id, &ok, chromedp.ByQuery),
		chromedp.Text("main", &r.text, chromedp.ByQuery),
		chromedp.AttributeValue("body", "data-reason", &r.reason, &ok, chromedp.ByQuery),
		chromedp.Location(&r.location),
	)
	require.NoError(t, err)
	require.Equal(t, want, id, "the page says %q (%s)", r.reason, r.text)
	return r
}

func TestBrowser_youzanTool(t *testing.T) {
	ctx := newBrowser(t)
	s := newISV(t)
	k := s.yzApp.Key(shoptokentest.YouzanGrantID)

	r := authorize(t, ctx, s.link(t, k), "#authorize", "reauth-success")
	assert.Equal(t, "authorized", r.reason)
	assert.Contains(t, r.text, "授权成功")
	assert.Contains(t, r.text, "Shop 88888 on Youzan has authorized the app again")
	u, err := url.Parse(r.location)
	require.NoError(t, err)
	assert.Equal(t, "/reauth/callback", u.Path)
	assert.True(t, strings.HasPrefix(r.location, s.base), "the browser came back to the ISV's site")

	tok, version := s.load(t, k)
	require.NotNil(t, tok, "the token is in the store")
	assert.Equal(t, shoptokentest.YouzanGrantID, tok.Subject)
	assert.True(t, s.yz.Valid(tok.AccessToken), "the stored token is the one Youzan issued")
	assert.NotEmpty(t, tok.RefreshToken)
	assert.Equal(t, 1, s.yz.Stats().TokenRequests, "one exchange")

	// Deny on a second link: a page that says so, and the store unchanged.
	r = authorize(t, ctx, s.link(t, k), "#deny", "reauth-failure")
	assert.Equal(t, "denied", r.reason)
	assert.Contains(t, r.text, "您已拒绝授权")
	assert.Contains(t, r.text, "You declined the authorization")
	after, v := s.load(t, k)
	assert.Equal(t, version, v, "the store is unchanged")
	assert.Equal(t, tok.AccessToken, after.AccessToken)
	assert.Equal(t, 1, s.yz.Stats().TokenRequests, "no exchange after a refusal")

	// Reloading the success page's URL (the callback) is refused, and changes nothing.
	var reason string
	var ok bool
	require.NoError(t, chromedp.Run(ctx, chromedp.Navigate(u.String()), chromedp.WaitVisible(handlerPage, chromedp.ByQuery),
		chromedp.AttributeValue("body", "data-reason", &reason, &ok, chromedp.ByQuery)))
	assert.Equal(t, "state-mismatch", reason, "the callback cleared the flow cookie")
	_, v = s.load(t, k)
	assert.Equal(t, version, v)
}

func TestBrowser_vipAuth(t *testing.T) {
	ctx := newBrowser(t)
	s := newISV(t)
	k := s.vApp.Key(shoptokentest.VipAuthOpenID)

	r := authorize(t, ctx, s.link(t, k), "#deny", "reauth-failure")
	assert.Equal(t, "denied", r.reason)
	tok, _ := s.load(t, k)
	assert.Nil(t, tok, "nothing stored after a refusal")

	r = authorize(t, ctx, s.link(t, k), "#authorize", "reauth-success")
	assert.Equal(t, "authorized", r.reason)
	assert.Contains(t, r.text, "唯品会店铺 "+k.Shop)
	tok, _ = s.load(t, k)
	require.NotNil(t, tok)
	assert.Equal(t, k.Shop, tok.Subject)
	assert.True(t, s.vip.Valid(tok.AccessToken))
	served, err := s.vApp.Token(context.Background(), k.Shop)
	require.NoError(t, err)
	assert.Equal(t, tok.AccessToken, served.AccessToken)
}
