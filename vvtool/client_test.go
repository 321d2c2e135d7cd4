package vvtool_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/shoptokentest"
	"github.com/shoptoken/shoptoken/vvtool"
)

func TestRejected(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		status  int
		ctype   string
		fixture string // file in testdata/, or body when it has no extension
		want    bool
	}{
		{"401 JSON", 401, "application/json", "reject_json.json", true},
		{"401 plain text", 401, "text/plain", "reject_plain.txt", true},
		{"401 empty body", 401, "", "", true},
		{"401 other message", 401, "application/json", "api_taobao_session.json", true},
		{"200 JSON code 401", 200, "application/json", "reject_json.json", true},
		{"200 plain text", 200, "text/plain", "reject_plain.txt", true},
		{"403 HTML page", 403, "text/html", "reject_page.html", true},
		{"200 nested error object", 200, "application/json", "reject_nested.json", true},
		{"200 English message", 200, "application/json", "reject_english.json", true},
		{"400 OAuth invalid_token", 400, "application/json", "reject_oauth.json", true},
		{"200 success", 200, "application/json", "api_ok.json", false},
		{"200 phrase inside data", 200, "application/json", "api_data_mentions.json", false},
		{"200 Taobao session expired", 200, "application/json", "api_taobao_session.json", false},
		{"200 JSON array", 200, "application/json", "api_array.json", false},
		{"500 HTML", 500, "text/html", "nginx_502.html", false},
		{"200 empty", 200, "", "", false},
		{"200 bare code 401 without message", 200, "application/json", `{"code":401,"msg":"未知错误"}`, false},
		{"200 token expired of another kind", 200, "application/json", `{"code":1,"msg":"token已过期"}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			body := []byte(tt.fixture)
			if strings.Contains(tt.fixture, ".") && !strings.HasPrefix(tt.fixture, "{") {
				body = readFixture(t, tt.fixture)
			}
			resp := &http.Response{StatusCode: tt.status, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(string(body))), ContentLength: -1}
			resp.Header.Set("Content-Type", tt.ctype)
			assert.Equal(t, tt.want, vvtool.Rejected(resp))
			rest, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			assert.Equal(t, string(body), string(rest), "the body stays readable")
		})
	}
}

func TestRejected_longBodies(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 5000) + "身份凭证无效"
	resp := &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(long)), ContentLength: -1}
	assert.False(t, vvtool.Rejected(resp), "a long text that mentions the phrase is not a rejection")
	rest, _ := io.ReadAll(resp.Body)
	assert.Equal(t, long, string(rest))

	declared := &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("身份凭证无效")), ContentLength: 1 << 20}
	assert.False(t, vvtool.Rejected(declared), "a body declared long is not read")
}

// TestNewClient_fleet runs two workers (two Caches on one MemoryStore, as two servers behind one
// egress IP would share Redis) with 100 goroutines each: one fetch serves them all; after another
// server fetches (killing the token) they recover with exactly one fetch.
func TestNewClient_fleet(t *testing.T) {
	t.Parallel()
	emu := shoptokentest.NewVVTool()
	defer emu.Close()
	cfg := emuConfig(emu, nil)
	clk := shoptokentest.NewClock(time.Now())
	cfg.Clock = clk
	store := shoptoken.NewMemoryStore()
	var sources []*shoptoken.Cache
	var clients []*vvtool.Client
	for range 2 {
		src, err := vvtool.NewSource(cfg, shoptoken.WithStore(store))
		require.NoError(t, err)
		t.Cleanup(src.Close)
		sources = append(sources, src)
		cl, err := vvtool.NewClient(cfg, src)
		require.NoError(t, err)
		clients = append(clients, cl)
	}
	ctx := context.Background()
	burst := func() int64 {
		var failures atomic.Int64
		var wg sync.WaitGroup
		for _, hc := range clients {
			for range 100 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := info(ctx, hc, emu); err != nil {
						failures.Add(1)
						t.Log(err)
					}
				}()
			}
		}
		wg.Wait()
		return failures.Load()
	}

	assert.Zero(t, burst())
	st := emu.Stats()
	assert.Equal(t, 1, st.TokenRequests)
	assert.Equal(t, 1, st.Issued)
	assert.Equal(t, 200, st.APICalls)
	assert.Zero(t, st.Rejected)

	// Another server with the same Account fetches, after the minimum interval.
	clk.Advance(vvtool.DefaultMinInterval + time.Second)
	outside, err := cfg.FetchToken(ctx)
	require.NoError(t, err)
	emu.ResetStats()

	assert.Zero(t, burst())
	st = emu.Stats()
	assert.Equal(t, 1, st.TokenRequests, "exactly one recovery fetch for the fleet")
	assert.Equal(t, 1, st.Issued)
	assert.Positive(t, st.Rejected)
	assert.LessOrEqual(t, st.APICalls, 200+st.Rejected, "each rejected call was sent once more, no more")
	assert.False(t, emu.Valid(outside.AccessToken))
	cur := sources[0].Current()
	require.NotNil(t, cur)
	assert.Equal(t, cur.AccessToken, sources[1].Current().AccessToken)
	assert.True(t, emu.Valid(cur.AccessToken))
	assert.Equal(t, "rejected", cur.Extra[vvtool.ExtraFetchReason])
	stored, _, err := store.Load(ctx, "vvtool/"+account) // the SDK-built key: one token per Account
	require.NoError(t, err)
	assert.Equal(t, cur.AccessToken, stored.AccessToken)
}

func TestNewClient_rejectStyles(t *testing.T) {
	t.Parallel()
	for _, style := range []shoptokentest.RejectStyle{shoptokentest.RejectHTTP401, shoptokentest.RejectHTTP200, shoptokentest.RejectPlainText} {
		t.Run(map[shoptokentest.RejectStyle]string{0: "HTTP401", 1: "HTTP200", 2: "PlainText"}[style], func(t *testing.T) {
			t.Parallel()
			emu := shoptokentest.NewVVTool()
			defer emu.Close()
			emu.SetRejectStyle(style)
			cfg := emuConfig(emu, nil)
			src, err := vvtool.NewSource(cfg, shoptoken.WithMinInterval(0))
			require.NoError(t, err)
			defer src.Close()
			hc := newClient(t, src, emu.Client())
			ctx := context.Background()

			require.NoError(t, info(ctx, hc, emu))
			_, err = cfg.FetchToken(ctx) // another server
			require.NoError(t, err)
			require.NoError(t, info(ctx, hc, emu), "the rejection is recognised and recovered from")
			st := emu.Stats()
			assert.Equal(t, 3, st.Issued, "first, outside, recovery")
			assert.Equal(t, 1, st.Rejected)
			assert.Equal(t, 3, st.APICalls)
		})
	}
}

// TestNewClient_ipBinding: the fetch leaves from 10.0.0.1, the API calls from 10.0.0.2, so every
// token is killed at its first use. The client must stop with an explanation, not fetch on.
func TestNewClient_ipBinding(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		opts        []shoptoken.Option
		wantFetches int
		rateLimited bool // the explanation wraps the Cache's minimum-interval refusal
	}{
		{"default minimum interval", nil, 1, true},
		{"no minimum interval", []shoptoken.Option{shoptoken.WithMinInterval(0), shoptoken.WithBackoff(time.Millisecond, time.Millisecond)}, 2, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			emu := shoptokentest.NewVVTool(shoptokentest.WithIPHeader("X-Forwarded-For"))
			defer emu.Close()
			src, err := vvtool.NewSource(emuConfig(emu, fromIP(emu, "10.0.0.1")), tt.opts...)
			require.NoError(t, err)
			defer src.Close()
			hc := newClient(t, src, fromIP(emu, "10.0.0.2"))
			ctx := context.Background()

			for i := range 5 {
				err := info(ctx, hc, emu)
				require.Error(t, err)
				require.ErrorIs(t, err, shoptoken.ErrPermission, "call %d: %v", i, err)
				assert.Equal(t, tt.rateLimited, errors.Is(err, shoptoken.ErrRateLimited))
				var e *shoptoken.Error
				require.ErrorAs(t, err, &e)
				assert.Equal(t, "vvtool", e.Platform)
				assert.Contains(t, e.Message, "binds a token to the IP address that fetched it")
				assert.Contains(t, e.Message, "another process or server with the same Account")
				if host, _ := os.Hostname(); host != "" {
					assert.Contains(t, e.Message, "by host "+host)
				}
				time.Sleep(5 * time.Millisecond) // let backoffs lapse: still no further fetch
			}
			var wg sync.WaitGroup
			for range 50 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					assert.ErrorIs(t, info(ctx, hc, emu), shoptoken.ErrPermission)
				}()
			}
			wg.Wait()
			assert.Equal(t, tt.wantFetches, emu.Stats().TokenRequests)
			assert.LessOrEqual(t, emu.Stats().TokenRequests, 2)
		})
	}
}

// TestNewClient_replacementThatWorked: a replacement token that a vv-tool API accepted and that is
// then killed by another server's fetch, within the two minutes of the IP-binding guard, is
// replaced like any other: the guard is for a replacement rejected before it ever worked.
func TestNewClient_replacementThatWorked(t *testing.T) {
	t.Parallel()
	emu := shoptokentest.NewVVTool()
	defer emu.Close()
	cfg := emuConfig(emu, nil)
	src, err := vvtool.NewSource(cfg, shoptoken.WithMinInterval(0))
	require.NoError(t, err)
	defer src.Close()
	hc := newClient(t, src, emu.Client())
	ctx := context.Background()

	require.NoError(t, info(ctx, hc, emu))
	for round := range 2 {
		_, err := cfg.FetchToken(ctx) // another server kills our token
		require.NoError(t, err)
		require.NoError(t, info(ctx, hc, emu), "round %d: the rejection is recovered from", round)
		assert.Equal(t, "rejected", src.Current().Extra[vvtool.ExtraFetchReason])
	}
	st := emu.Stats()
	assert.Equal(t, 5, st.Issued, "first, outside, replacement, outside, replacement")
	assert.Equal(t, 2, st.Rejected)
}

// TestNewClient_replaysBody: a POST whose token is rejected is sent again with the same body.
func TestNewClient_replaysBody(t *testing.T) {
	t.Parallel()
	emu := shoptokentest.NewVVTool()
	defer emu.Close()
	var (
		mu     sync.Mutex
		bodies []string
		auths  []string
	)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		auths = append(auths, r.Header.Get("Authorization"))
		first := len(bodies) == 1
		mu.Unlock()
		if first {
			_, _ = io.WriteString(w, `{"code":401,"msg":"身份凭证无效"}`) // HTTP 200
			return
		}
		_, _ = io.WriteString(w, `{"code":0,"msg":"成功","data":{}}`)
	}))
	defer api.Close()
	src, err := vvtool.NewSource(emuConfig(emu, nil), shoptoken.WithMinInterval(0))
	require.NoError(t, err)
	defer src.Close()
	hc := newClient(t, src, nil)

	const form = "num_iid=620931423455&fields=title,price"
	resp, err := hc.HTTPClient().Post(api.URL+"/tool/items/get", "application/x-www-form-urlencoded", strings.NewReader(form))
	require.NoError(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	assert.JSONEq(t, `{"code":0,"msg":"成功","data":{}}`, string(body))
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []string{form, form}, bodies)
	require.Len(t, auths, 2)
	assert.NotEqual(t, auths[0], auths[1], "the retry carries the new token")
	assert.Equal(t, "Bearer "+src.Current().AccessToken, auths[1])
	assert.Equal(t, 2, emu.Stats().Issued)
}

func TestNewClient_passesOtherAnswers(t *testing.T) {
	t.Parallel()
	emu := shoptokentest.NewVVTool()
	defer emu.Close()
	src, err := vvtool.NewSource(emuConfig(emu, nil))
	require.NoError(t, err)
	defer src.Close()
	hc := newClient(t, src, emu.Client())

	emu.FailAPI(shoptokentest.FaultHTML, 1)
	resp, err := hc.HTTPClient().Get(emu.URL + "/tool/members/info")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusBadGateway, resp.StatusCode)
	assert.Equal(t, 1, emu.Stats().Issued, "a 502 is not a rejection")

	req, _ := http.NewRequest(http.MethodGet, emu.URL+"/tool/members/info", nil)
	resp, err = hc.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Empty(t, req.Header.Get("Authorization"), "the caller's request is not modified")
}

// TestNewClient_badInput: a nil source (also a nil pointer or func in the interface) and a Config
// NewSource would refuse are errors, never a panic, and nothing is sent.
func TestNewClient_badInput(t *testing.T) {
	t.Parallel()
	good := vvtool.Config{Account: account, AccessKey: accessKey}
	for name, src := range map[string]shoptoken.TokenSource{
		"nil": nil, "nil *Cache": (*shoptoken.Cache)(nil), "nil func": shoptoken.TokenSourceFunc(nil),
	} {
		cl, err := vvtool.NewClient(good, src)
		require.ErrorIs(t, err, shoptoken.ErrBadRequest, name)
		assert.Nil(t, cl, name)
		assert.Contains(t, err.Error(), "no token source", name)
	}
	static := shoptoken.StaticSource(&shoptoken.Token{AccessToken: "static-token-0123456789"})
	for name, tt := range map[string]struct {
		cfg  vvtool.Config
		want error
	}{
		"no account":    {vvtool.Config{AccessKey: accessKey}, shoptoken.ErrCredentials},
		"no access key": {vvtool.Config{Account: account}, shoptoken.ErrCredentials},
		"bad encoding":  {vvtool.Config{Account: account, AccessKey: accessKey, Encoding: 7}, shoptoken.ErrBadRequest},
		"bad token url": {vvtool.Config{Account: account, AccessKey: accessKey, TokenURL: "ftp://vv.test"}, shoptoken.ErrBadRequest},
	} {
		cl, err := vvtool.NewClient(tt.cfg, static)
		require.ErrorIs(t, err, tt.want, name)
		assert.Nil(t, cl, name)
	}
}

// TestNewClient_staticSource: NewClient takes any TokenSource. With one that cannot be told of a
// rejection, the rejection comes back as the platform's answer: no fetch, no retry.
func TestNewClient_staticSource(t *testing.T) {
	t.Parallel()
	emu := shoptokentest.NewVVTool()
	defer emu.Close()
	ctx := context.Background()
	tok, err := emuConfig(emu, nil).FetchToken(ctx)
	require.NoError(t, err)
	cl := newClient(t, shoptoken.StaticSource(tok), emu.Client())

	require.NoError(t, info(ctx, cl, emu))
	require.NoError(t, info(ctx, cl.HTTPClient(), emu))
	_, err = emuConfig(emu, nil).FetchToken(ctx) // another server kills our token
	require.NoError(t, err)
	emu.ResetStats()
	err = info(ctx, cl, emu)
	var ans *answerError
	require.ErrorAs(t, err, &ans, "the platform's own answer")
	assert.Contains(t, ans.body, shoptokentest.VVToolInvalid)
	st := emu.Stats()
	assert.Equal(t, 1, st.APICalls, "not sent again")
	assert.Zero(t, st.TokenRequests, "a static source is never refreshed")
}
