package reauth_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken/filestore"
	"github.com/shoptoken/shoptoken/reauth"
	"github.com/shoptoken/shoptoken/shops"
	"github.com/shoptoken/shoptoken/shoptokentest"
	"github.com/shoptoken/shoptoken/youzan"
)

// TestHandler_fleet runs two processes of the ISV's web app behind a load balancer that sends
// each request to the next process, on one shared store (a filestore directory, which processes
// on one host share; each process has its own Store on it, as it would with Redis or SQL): a flow
// started on one finishes on the other, the token one process saves is the one the other serves,
// and a link or an answer used on one is refused on the other.
func TestHandler_fleet(t *testing.T) {
	dir := t.TempDir()
	var next atomic.Int64
	var procs [2]http.Handler
	lb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		procs[next.Add(1)%2].ServeHTTP(w, r)
	}))
	defer lb.Close()
	callback := lb.URL + "/reauth/callback"
	yz := shoptokentest.NewYouzan(shoptokentest.WithRedirectURIs(callback))
	defer yz.Close()
	cfg := youzan.Config{ClientID: "id", ClientSecret: "secret", BaseURL: yz.URL, AuthorizeURL: yz.AuthorizeURL, HTTPClient: yz.Client()}

	var apps [2]*youzan.App
	var handlers [2]*reauth.Handler
	for i := range procs {
		store, err := filestore.New(dir) // each process its own Store on one directory
		require.NoError(t, err)
		app, err := youzan.NewToolApp(cfg, shops.WithStore(store))
		require.NoError(t, err)
		defer app.Close()
		h, err := reauth.New(reauth.Config{BaseURL: lb.URL + "/reauth", SigningKey: []byte(signingKey), Store: store},
			reauth.YouzanTool(cfg, app))
		require.NoError(t, err)
		apps[i], handlers[i], procs[i] = app, h, h
	}
	k := apps[0].Key(shoptokentest.YouzanGrantID)
	ctx := context.Background()

	t.Run("a flow across both processes", func(t *testing.T) {
		e := &env{t: t}
		b := e.browser()
		link, err := handlers[0].Link(k, time.Hour)
		require.NoError(t, err)
		p := b.get(link) // start on one process, callback on the other
		assert.Equal(t, http.StatusOK, p.status)
		assert.Equal(t, "authorized", p.reason())
		t0, err := apps[0].Token(ctx, k.Shop)
		require.NoError(t, err)
		t1, err := apps[1].Token(ctx, k.Shop)
		require.NoError(t, err)
		assert.Equal(t, t0.AccessToken, t1.AccessToken, "both processes serve the saved token")
		assert.True(t, yz.Valid(t0.AccessToken))

		for range 2 { // whichever process the browser reaches
			p := e.browser().get(link)
			assert.Equal(t, http.StatusConflict, p.status)
			assert.Equal(t, "link-used", p.reason())
		}
	})

	t.Run("a double submit spread over both processes", func(t *testing.T) {
		e := &env{t: t}
		b := e.browser()
		link, err := handlers[1].Link(k, time.Hour)
		require.NoError(t, err)
		cbURL := toCallbackVia(t, b, link, "/reauth/callback")
		cookies := b.c.Jar.Cookies(mustURL(t, callback))
		yz.ResetStats()
		const n = 10
		var wg sync.WaitGroup
		reasons := make([]string, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequest(http.MethodGet, cbURL, nil)
				for _, c := range cookies {
					req.AddCookie(c)
				}
				resp, err := http.DefaultClient.Do(req)
				if !assert.NoError(t, err) {
					return
				}
				defer resp.Body.Close()
				body, _ := io.ReadAll(resp.Body)
				reasons[i] = page{body: string(body)}.reason()
			}()
		}
		wg.Wait()
		count := map[string]int{}
		for _, r := range reasons {
			count[r]++
		}
		assert.Equal(t, map[string]int{"authorized": 1, "already-handled": n - 1}, count)
		assert.Equal(t, 1, yz.Stats().TokenRequests, "one exchange in the whole fleet")
	})
}

// toCallbackVia opens link in b and follows redirects up to (not into) path; it returns the URL
// the platform sent the browser to.
func toCallbackVia(t *testing.T, b *browser, link, path string) string {
	t.Helper()
	b.stop = func(u *url.URL) bool { return u.Path == path }
	defer func() { b.stop = nil }()
	p := b.get(link)
	require.Equal(t, http.StatusFound, p.status)
	return p.header.Get("Location")
}
