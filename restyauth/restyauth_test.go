package restyauth_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-resty/resty/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/testkit"
	"github.com/shoptoken/shoptoken/restyauth"
	"github.com/shoptoken/shoptoken/shops"
	"github.com/shoptoken/shoptoken/shoptokentest"
	"github.com/shoptoken/shoptoken/veapi"
)

// warm sends one request that must succeed, so that the source holds a token the API accepted.
func warm(t *testing.T, p *platform, c *resty.Client) {
	t.Helper()
	resp, err := p.post(c.R(), 0)
	require.NoError(t, err)
	require.True(t, p.accepted(resp, 0), "warm-up answer: %s", resp.Body())
}

// The platform rejects the token: the request is sent once more with a new token and the same
// body, after exactly one Invalidate and one refresh; the caller's request never holds the token.
func TestUse_rejectedOnce(t *testing.T) {
	for _, pl := range platforms {
		t.Run(pl.name, func(t *testing.T) {
			t.Parallel()
			p := pl.start(t)
			c := p.client(t)
			warm(t, p, c)
			p.reject()
			p.resetStats()
			p.wire.reset(nil)

			resp, err := p.post(c.R(), 7)

			require.NoError(t, err)
			assert.True(t, p.accepted(resp, 7), "answer: %s", resp.Body())
			assert.Equal(t, int64(1), p.src.invalidated.Load(), "one Invalidate")
			assert.Equal(t, 1, p.refreshes(), "one refresh")
			st := p.stats()
			assert.Equal(t, 2, st.APICalls, "the request and one retry")
			assert.Equal(t, 1, st.Rejected)
			if sent := p.wire.sent(); assert.Len(t, sent, 2) {
				assert.NotEmpty(t, sent[0])
				assert.Equal(t, sent[0], sent[1], "the retry carried the same body")
			}
			// The caller's request, as resty shows it, carries neither the token nor a secret.
			raw := resp.Request.RawRequest
			assert.Empty(t, raw.Header.Get("Authorization"))
			assert.Empty(t, resp.Request.Header.Get("Authorization"))
			assert.Empty(t, resp.Request.QueryParam)
			assert.Same(t, raw, resp.RawResponse.Request, "the response points at the caller's request")
			testkit.NoSecret(t, "the caller's request", p.leakCheck(), raw.URL.String(), fmt.Sprint(raw.Header),
				resp.Request.URL, fmt.Sprint(resp.Request.Header), fmt.Sprint(resp.Request.QueryParam))
		})
	}
}

// The retry's fresh token is rejected too: that answer is returned, and nothing more is sent or
// refreshed, also when resty's own retries (a condition matching the rejection) try again.
func TestUse_secondRejectionReturned(t *testing.T) {
	for _, pl := range platforms {
		for _, retries := range []int{0, 2} {
			t.Run(pl.name+"/resty_retries="+strconv.Itoa(retries), func(t *testing.T) {
				t.Parallel()
				p := pl.start(t)
				c := p.client(t)
				if retries > 0 {
					c.SetRetryCount(retries).SetRetryWaitTime(time.Millisecond).SetRetryMaxWaitTime(5 * time.Millisecond).
						AddRetryCondition(func(r *resty.Response, _ error) bool { return r != nil && p.rejection(r) })
				}
				warm(t, p, c)
				p.reject()
				p.resetStats()
				// Every token sent after the first request is rejected as well.
				p.wire.reset(func(n int) {
					if n >= 2 {
						p.rejectAgain()
					}
				})

				resp, err := p.post(c.R(), 3)

				require.NoError(t, err, "a rejection is an answer, not an error")
				assert.True(t, p.rejection(resp), "the platform's rejection is returned: %s", resp.Body())
				assert.Equal(t, int64(1), p.src.invalidated.Load(), "one Invalidate per request, whatever resty retries")
				assert.Equal(t, 1, p.refreshes(), "one refresh")
				st := p.stats()
				assert.Equal(t, 2+retries, st.APICalls, "the request, our one retry, and resty's retries")
				assert.Equal(t, 2+retries, st.Rejected)
			})
		}
	}
}

// Many goroutines send at once with a token the platform has stopped accepting: one refresh
// serves them all, and every request succeeds with its own body.
func TestUse_concurrentRejectionsOneRefresh(t *testing.T) {
	const n = 64
	for _, pl := range platforms {
		t.Run(pl.name, func(t *testing.T) {
			t.Parallel()
			p := pl.start(t)
			c := p.client(t)
			warm(t, p, c)
			p.reject()
			p.resetStats()

			var wg sync.WaitGroup
			var ok atomic.Int64
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					resp, err := p.post(c.R(), i)
					if assert.NoError(t, err) && assert.True(t, p.accepted(resp, i), "answer %d: %s", i, resp.Body()) {
						ok.Add(1)
					}
				}()
			}
			wg.Wait()

			assert.Equal(t, int64(n), ok.Load())
			assert.Equal(t, 1, p.refreshes(), "one refresh for every rejection")
			st := p.stats()
			assert.Positive(t, st.Rejected)
			assert.Equal(t, n+st.Rejected, st.APICalls, "each rejected request was sent once more")
			assert.Equal(t, int64(st.Rejected), p.src.invalidated.Load(), "one Invalidate per rejected request")
		})
	}
}

// A body that cannot be replayed (a PreRequestHook put a stream there, without GetBody) is not
// sent again: the rejection is returned, the token is replaced all the same, and the next request
// goes through with the new one.
func TestUse_nonReplayableBodyNotRetried(t *testing.T) {
	for _, pl := range platforms {
		t.Run(pl.name, func(t *testing.T) {
			t.Parallel()
			p := pl.start(t)
			c := p.client(t)
			warm(t, p, c)
			var stream atomic.Bool
			c.SetPreRequestHook(func(_ *resty.Client, r *http.Request) error {
				if stream.Load() && r.GetBody != nil {
					body, err := r.GetBody()
					if err != nil {
						return err
					}
					r.Body, r.GetBody = io.NopCloser(struct{ io.Reader }{body}), nil
				}
				return nil
			})
			p.reject()
			p.resetStats()

			stream.Store(true)
			resp, err := p.post(c.R(), 1)
			require.NoError(t, err)
			assert.True(t, p.rejection(resp), "answer: %s", resp.Body())
			assert.Equal(t, 1, p.stats().APICalls, "not sent again")
			assert.Equal(t, int64(1), p.src.invalidated.Load(), "the rejected token was reported")
			assert.Equal(t, 1, p.refreshes())

			stream.Store(false)
			resp, err = p.post(c.R(), 2)
			require.NoError(t, err)
			assert.True(t, p.accepted(resp, 2), "answer: %s", resp.Body())
			assert.Equal(t, 2, p.stats().APICalls)
			assert.Equal(t, 1, p.refreshes(), "the next request used the new token")
		})
	}
}

// With resty's debug log on (requests, responses, curl commands), a rejection and its retry, a
// second rejection and a network failure show no token and no secret: not in the log, not in an
// error, not in the caller's request.
func TestUse_noSecretInDebugLogOrErrors(t *testing.T) {
	for _, pl := range platforms {
		t.Run(pl.name, func(t *testing.T) {
			t.Parallel()
			p := pl.start(t)
			c := p.client(t)
			log := &restyLog{}
			c.SetLogger(log).SetDebug(true).EnableGenerateCurlOnDebug()
			var outputs []string
			show := func(resp *resty.Response, err error) {
				outputs = append(outputs, testkit.ErrorTexts(err)...)
				if resp != nil && resp.Request != nil {
					outputs = append(outputs, resp.Request.URL, fmt.Sprint(resp.Request.Header), fmt.Sprint(resp.Request.QueryParam))
					if raw := resp.Request.RawRequest; raw != nil {
						outputs = append(outputs, raw.URL.String(), fmt.Sprint(raw.Header))
					}
				}
			}
			warm(t, p, c)
			p.reject()
			show(p.post(c.R(), 1)) // rejected, refreshed, retried
			p.wire.reset(func(int) { p.rejectAgain() })
			show(p.post(c.R(), 2)) // rejected twice
			p.wire.reset(nil)

			// A failure whose error quotes the URL the base transport was given, token and all.
			failing := resty.New().SetTransport(failWith{}).SetLogger(log).SetDebug(true)
			require.NoError(t, restyauth.Use(failing, p.src, p.policy))
			resp, err := failing.R().SetBody("x").Post("http://api.test/api?keep=1")
			require.Error(t, err)
			show(resp, err)

			require.GreaterOrEqual(t, len(p.src.issued()), 2, "the test saw at least the old and the new token")
			out := log.buf.String()
			require.Contains(t, out, "~~~ REQUEST ~~~", "resty's debug log ran")
			require.Contains(t, out, "curl", "resty's curl command was logged")
			testkit.NoSecret(t, "resty's debug log", p.leakCheck(), out)
			testkit.NoSecret(t, "errors and the caller's requests", p.leakCheck(), outputs...)
		})
	}
}

// failWith is a base transport that fails every request with an error that quotes the URL it was
// given, as a wrapping RoundTripper may.
type failWith struct{}

func (failWith) RoundTrip(r *http.Request) (*http.Response, error) {
	return nil, fmt.Errorf("proxy refused %s (authorization %q)", r.URL, r.Header.Get("Authorization"))
}

// One client serves every shop of an App: the shop on each request's context picks its token,
// a rejection refreshes that shop once, and a request with no shop fails before it is sent,
// without resty retrying it.
func TestUseShops_app(t *testing.T) {
	t.Parallel()
	emu := shoptokentest.NewVeapi(shoptokentest.WithCredentials(testVEKey, ""))
	t.Cleanup(emu.Close)
	cfg := veapi.Config{VEKey: testVEKey, App: "acct", BaseURL: emu.URL, HTTPClient: emu.Client()}
	app, err := veapi.NewApp(cfg, shops.WithStore(shoptoken.NewMemoryStore()),
		shops.WithCacheOptions(shoptoken.WithMinInterval(0)))
	require.NoError(t, err)
	t.Cleanup(app.Close)
	ctx := context.Background()
	shopIDs := []string{"shop-1", "shop-2", "shop-3"}
	for _, shop := range shopIDs {
		require.NoError(t, app.Set(ctx, shop, &shoptoken.Token{RefreshToken: emu.NewGrant(shop), Subject: shop}))
	}
	policy, err := veapi.APIPolicy(cfg)
	require.NoError(t, err)
	var asked sync.Map // shop -> *atomic.Int64: how often sources was called for it
	sources := func(shop string) shoptoken.Invalidator {
		n, _ := asked.LoadOrStore(shop, new(atomic.Int64))
		n.(*atomic.Int64).Add(1)
		return app.Source(shop)
	}
	c := resty.New().SetTransport(emu.Client().Transport).SetLogger(&restyLog{})
	var restyRetries atomic.Int64
	c.SetRetryCount(3).SetRetryWaitTime(time.Millisecond).AddRetryHook(func(*resty.Response, error) { restyRetries.Add(1) })
	require.NoError(t, restyauth.UseShops(c, sources, policy))
	call := func(ctx context.Context, method string) (*resty.Response, error) {
		return c.R().SetContext(ctx).SetFormData(map[string]string{"method": method}).Post(emu.URL + "/vip/api")
	}

	for _, shop := range shopIDs {
		resp, err := call(restyauth.WithShop(ctx, shop), "first")
		require.NoError(t, err)
		assert.True(t, veapiAccepted(resp, shop, "first"), "%s: %s", shop, resp.Body())
	}
	assert.Equal(t, 3, emu.Stats().TokenRequests, "one redemption per shop")

	emu.ExpireNow()
	emu.ResetStats()
	var wg sync.WaitGroup
	for i := range 48 {
		shop := shopIDs[i%len(shopIDs)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := call(restyauth.WithShop(ctx, shop), "m"+strconv.Itoa(i))
			if assert.NoError(t, err) {
				assert.True(t, veapiAccepted(resp, shop, "m"+strconv.Itoa(i)), "%s: %s", shop, resp.Body())
			}
		}()
	}
	wg.Wait()
	st := emu.Stats()
	assert.Equal(t, 3, st.TokenRequests, "one refresh per shop")
	assert.Equal(t, 48+st.Rejected, st.APICalls)
	assert.Zero(t, restyRetries.Load())

	emu.ResetStats()
	resp, err := call(ctx, "nowhere")
	require.ErrorIs(t, err, shoptoken.ErrBadRequest)
	assert.Contains(t, err.Error(), "restyauth.WithShop")
	assert.Zero(t, restyRetries.Load(), "resty does not retry a request with no shop")
	assert.Zero(t, emu.Stats().APICalls, "nothing was sent")
	if resp != nil {
		assert.Nil(t, resp.RawResponse)
	}
	_, err = call(restyauth.WithShop(ctx, ""), "blank")
	require.ErrorIs(t, err, shoptoken.ErrBadRequest)
	_, ok := asked.Load("")
	assert.False(t, ok, "no source is asked for a blank shop")
}

// A source that cannot be invalidated hands the rejection back at once; a source that fails
// fails the request with its own error, which errors.Is finds through resty's.
func TestUse_sourcesThatCannotRecover(t *testing.T) {
	t.Parallel()
	emu := shoptokentest.NewVeapi(shoptokentest.WithCredentials(testVEKey, ""))
	t.Cleanup(emu.Close)
	policy, err := veapi.APIPolicy(veapi.Config{VEKey: testVEKey})
	require.NoError(t, err)
	post := func(src shoptoken.TokenSource) (*resty.Response, error) {
		c := resty.New().SetTransport(emu.Client().Transport)
		require.NoError(t, restyauth.Use(c, src, policy))
		return c.R().SetFormData(map[string]string{"method": "m"}).Post(emu.URL + "/vip/api")
	}

	static := shoptoken.StaticSource(&shoptoken.Token{AccessToken: "STATICq7Zr2Lp9Wt6Yk8Nm3Hc5Jd1Fg0Ss2xRv4B", Expiry: time.Now().Add(time.Hour)})
	resp, err := post(static)
	require.NoError(t, err)
	assert.Contains(t, string(resp.Body()), shoptokentest.VeapiErrSessionInvalid)
	assert.Equal(t, 1, emu.Stats().APICalls, "no retry: there is no other token")

	expired := shoptoken.StaticSource(&shoptoken.Token{AccessToken: "x", Expiry: time.Now().Add(-time.Hour)})
	_, err = post(expired)
	require.ErrorIs(t, err, shoptoken.ErrReauthorize)
	assert.Equal(t, 1, emu.Stats().APICalls, "nothing sent without a token")
}

func TestUse_badSetup(t *testing.T) {
	t.Parallel()
	var nilCache *shoptoken.Cache
	src := shoptoken.StaticSource(&shoptoken.Token{AccessToken: "a"})
	tests := []struct {
		name string
		use  func(c *resty.Client) error
		c    *resty.Client
	}{
		{"nil client", func(*resty.Client) error { return restyauth.Use(nil, src, shoptoken.Policy{}) }, nil},
		{"nil source", func(c *resty.Client) error { return restyauth.Use(c, nil, shoptoken.Policy{}) }, resty.New()},
		{"nil cache", func(c *resty.Client) error { return restyauth.Use(c, nilCache, shoptoken.Policy{}) }, resty.New()},
		{"nil sources", func(c *resty.Client) error { return restyauth.UseShops(c, nil, shoptoken.Policy{}) }, resty.New()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.use(tt.c)
			require.ErrorIs(t, err, shoptoken.ErrBadRequest)
			assert.True(t, strings.HasPrefix(err.Error(), "new_client: restyauth: "), err.Error())
			if tt.c != nil {
				_, wrapped := tt.c.GetClient().Transport.(*shoptoken.Transport)
				assert.False(t, wrapped, "nothing changed")
			}
		})
	}
}

// Use twice would attach the token twice and retry twice: the second call is refused and the
// client keeps working as the first set it up.
func TestUse_twiceRefused(t *testing.T) {
	t.Parallel()
	var got []string
	var mu sync.Mutex
	c := resty.New().SetTransport(roundTripFunc(func(r *http.Request) (*http.Response, error) {
		mu.Lock()
		got = append(got, r.Header.Values("Authorization")...)
		mu.Unlock()
		return &http.Response{StatusCode: 200, Body: http.NoBody, Header: http.Header{}, Request: r}, nil
	}))
	src := shoptoken.StaticSource(&shoptoken.Token{AccessToken: "tok"})
	require.NoError(t, restyauth.Use(c, src, shoptoken.Policy{}))
	require.ErrorIs(t, restyauth.Use(c, src, shoptoken.Policy{}), shoptoken.ErrBadRequest)
	require.ErrorIs(t, restyauth.UseShops(c, func(string) shoptoken.Invalidator { return nil }, shoptoken.Policy{}), shoptoken.ErrBadRequest)

	_, err := c.R().Get("http://api.test/x")
	require.NoError(t, err)
	assert.Equal(t, []string{"Bearer tok"}, got)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// vv-tool binds a token to the IP that fetched it: when the token fetched to replace a rejected one
// is rejected too, the next request does not fetch yet another (each fetch kills a token) but fails
// with the Cache's refusal.
func TestUse_vvtoolNoFetchAfterRejectedReplacement(t *testing.T) {
	t.Parallel()
	p := startVVTool(t)
	c := p.client(t)
	warm(t, p, c)
	p.reject()
	p.resetStats()
	p.wire.reset(func(n int) {
		if n == 2 {
			p.rejectAgain()
		}
	})
	resp, err := p.post(c.R(), 1)
	require.NoError(t, err)
	require.True(t, p.rejection(resp))
	require.Equal(t, 1, p.refreshes())

	_, err = p.post(c.R(), 2)

	require.ErrorIs(t, err, shoptoken.ErrPermission)
	assert.Contains(t, err.Error(), "binds a token to the IP address")
	assert.Equal(t, 1, p.refreshes(), "no second fetch")
	assert.Equal(t, 3, p.stats().APICalls)
}
