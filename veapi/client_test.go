package veapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/shoptokentest"
)

type apiAnswer struct {
	Error string `json:"error"`
	Msg   string `json:"msg"`
	Data  struct {
		Subject string `json:"subject"`
		Method  string `json:"method"`
	} `json:"data"`
}

func callAPI(t *testing.T, cl *Client, req *http.Request) apiAnswer {
	t.Helper()
	resp, err := cl.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var a apiAnswer
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&a))
	return a
}

func newEmuSource(t *testing.T, emu *shoptokentest.Veapi, subject string, opts ...shoptoken.Option) *shoptoken.Cache {
	t.Helper()
	rt := emu.NewGrant(subject)
	src, err := NewSource(emuConfig(emu), subject, append([]shoptoken.Option{
		shoptoken.WithToken(&shoptoken.Token{RefreshToken: rt, Subject: subject}),
		shoptoken.WithStore(shoptoken.NewMemoryStore()),
		shoptoken.WithMinInterval(0),
	}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(src.Close)
	return src
}

func TestNewClient_call(t *testing.T) {
	emu := newEmu(t)
	src := newEmuSource(t, emu, "shop-1")
	hc := mustClient(t, emuConfig(emu), src)

	req, err := http.NewRequest(http.MethodGet, emu.URL+"/vip/api?method=vip.goods.get", nil)
	require.NoError(t, err)
	a := callAPI(t, hc, req)

	assert.Equal(t, "0", a.Error)
	assert.Equal(t, "shop-1", a.Data.Subject)
	assert.Equal(t, "vip.goods.get", a.Data.Method)
	assert.Empty(t, req.URL.Query().Get("sessionkey"), "the caller's request is not modified")
	s := emu.Stats()
	assert.Equal(t, 1, s.APICalls)
	assert.Equal(t, 1, s.Issued)
}

// TestNewClient_rejectedOnce: the platform stops accepting the access token; 50 concurrent calls
// are all rejected, and one refresh serves them all.
func TestNewClient_rejectedOnce(t *testing.T) {
	emu := newEmu(t)
	src := newEmuSource(t, emu, "shop-1")
	hc := mustClient(t, emuConfig(emu), src)
	req, _ := http.NewRequest(http.MethodGet, emu.URL+"/vip/api", nil)
	_ = callAPI(t, hc, req)
	emu.ExpireNow()
	emu.ResetStats()

	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A POST form body must be replayed on the second attempt.
			req, err := http.NewRequest(http.MethodPost, emu.URL+"/vip/api", strings.NewReader("method=vip.order.list"))
			if !assert.NoError(t, err) {
				return
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			a := callAPI(t, hc, req)
			assert.Equal(t, "0", a.Error)
			assert.Equal(t, "vip.order.list", a.Data.Method)
		}()
	}
	wg.Wait()

	s := emu.Stats()
	assert.Equal(t, 1, s.TokenRequests, "one refresh for every rejection")
	assert.Equal(t, 1, s.Issued)
	assert.Positive(t, s.Rejected)
	assert.Equal(t, 50+s.Rejected, s.APICalls, "each rejected call was sent once more")
	assert.Zero(t, s.DeadRefreshUsed)
}

func TestNewClient_grantLost(t *testing.T) {
	emu := newEmu(t)
	src := newEmuSource(t, emu, "shop-1")
	hc := mustClient(t, emuConfig(emu), src)
	req, _ := http.NewRequest(http.MethodGet, emu.URL+"/vip/api", nil)
	_ = callAPI(t, hc, req)
	emu.RotateElsewhere("shop-1")

	resp, err := hc.HTTPClient().Get(emu.URL + "/vip/api")

	if resp != nil {
		resp.Body.Close()
	}
	require.ErrorIs(t, err, shoptoken.ErrReauthorize)
	var ue *url.Error
	require.ErrorAs(t, err, &ue)
	assert.NotContains(t, ue.URL, "sessionkey")
	assert.Equal(t, 1, emu.Stats().DeadRefreshUsed)
}

func TestRejected(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   []byte
		want   bool
	}{
		{"ok", 200, fixture(t, "api_ok.json"), false},
		{"sessionkey invalid", 200, fixture(t, "api_session_invalid.json"), true},
		{"sessionkey expired", 200, fixture(t, "api_session_expired.json"), true},
		{"rate limited", 200, fixture(t, "api_rate_limited.json"), false},
		{"refresh error is not a session error", 200, fixture(t, "refresh_err_vekey.json"), false},
		{"401", 401, []byte("Unauthorized"), true},
		{"HTML 502", 502, fixture(t, "bad_html_502.html"), false},
		{"truncated", 200, fixture(t, "bad_truncated.json"), false},
		{"empty", 200, nil, false},
		{"no error field", 200, []byte(`{"msg":"sessionkey无效"}`), false},
		{"numeric code", 200, []byte(`{"error":10020,"msg":"sessionkey无效"}`), true},
		{"success with alarming message", 200, []byte(`{"error":"0","msg":"token无效"}`), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := &http.Response{StatusCode: tt.status, Body: io.NopCloser(strings.NewReader(string(tt.body)))}
			assert.Equal(t, tt.want, rejected(resp))
			rest, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			assert.Equal(t, string(tt.body), string(rest), "the body stays readable")
		})
	}
}

// TestNewSource_noSecretLeaks runs every path against an emulator that accepts a distinctive vekey and
// checks that no secret (vekey, any refresh or access token ever issued) shows in errors, tokens'
// printed forms or the Debug log of both the provider and the Cache.
func TestNewSource_noSecretLeaks(t *testing.T) {
	emu := newEmu(t, shoptokentest.WithCredentials(testVEKey, ""))
	rec := &bodyRecorder{base: emu.Client().Transport}
	log, logs := newLogger()
	cfg := Config{VEKey: testVEKey, App: testApp, BaseURL: emu.URL, HTTPClient: &http.Client{Transport: rec}, Logger: log}
	ctx := context.Background()
	var texts []string
	secrets := []string{testVEKey}

	rt := emu.NewGrant("shop-1")
	secrets = append(secrets, rt)
	src, err := NewSource(cfg, "shop-1", shoptoken.WithToken(&shoptoken.Token{RefreshToken: rt}),
		shoptoken.WithStore(shoptoken.NewMemoryStore()), shoptoken.WithMinInterval(0),
		shoptoken.WithBackoff(1, 1))
	require.NoError(t, err)
	defer src.Close()
	tok, err := src.Token(ctx)
	require.NoError(t, err)
	texts = append(texts, tokTexts(tok)...)
	for range 3 {
		tok, err = src.Invalidate(ctx, tok)
		require.NoError(t, err)
		texts = append(texts, tokTexts(tok)...)
	}
	hc := mustClient(t, cfg, src)
	emu.ExpireNow()
	resp, err := hc.HTTPClient().Get(emu.URL + "/vip/api")
	require.NoError(t, err)
	resp.Body.Close()

	// Failures: a lost answer, a truncated one, HTML, then the dead chain.
	for _, f := range []shoptokentest.Fault{shoptokentest.FaultHTML, shoptokentest.FaultTruncated, shoptokentest.FaultDrop} {
		emu.FailNext(f, 1)
		_, err = src.Invalidate(ctx, src.Current())
		require.Error(t, err)
		texts = append(texts, errTexts(err)...)
		texts = append(texts, tokTexts(src.Current())...)
	}
	_, err = src.Invalidate(ctx, src.Current())
	require.ErrorIs(t, err, shoptoken.ErrReauthorize)
	texts = append(texts, errTexts(err)...)
	_, err = Config{VEKey: "x" + testVEKey[1:], BaseURL: emu.URL, Logger: log}.Refresh(ctx, rt)
	require.ErrorIs(t, err, shoptoken.ErrCredentials)
	texts = append(texts, errTexts(err)...)

	secrets = append(secrets, rec.tokens()...)
	require.Greater(t, len(secrets), 10)
	require.Contains(t, logs.String(), `"level":"DEBUG"`)
	assertNoSecret(t, secrets, append(texts, logs.String())...)
}

// bodyRecorder passes requests on and remembers every token-like string in the answers, so the
// test knows the secrets issued in answers the provider never understood.
type bodyRecorder struct {
	base http.RoundTripper
	mu   sync.Mutex
	seen map[string]bool
}

func (r *bodyRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(strings.NewReader(string(b)))
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen == nil {
		r.seen = map[string]bool{}
	}
	for _, f := range strings.FieldsFunc(string(b), func(c rune) bool {
		return !(c >= '0' && c <= '9' || c >= 'A' && c <= 'F')
	}) {
		if len(f) >= 20 {
			r.seen[f] = true
		}
	}
	return resp, nil
}

func (r *bodyRecorder) tokens() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for s := range r.seen {
		out = append(out, s)
	}
	return out
}

func TestNewClient_invalid(t *testing.T) {
	emu := newEmu(t)
	src := newEmuSource(t, emu, "shop-1")
	_, err := NewClient(Config{BaseURL: emu.URL}, src)
	require.ErrorIs(t, err, shoptoken.ErrCredentials, "VEKey is required: every API call needs it")
	assert.Contains(t, err.Error(), "Config.VEKey")
	_, err = NewClient(Config{VEKey: "vekey", BaseURL: "api.veapi.cn"}, src)
	require.ErrorIs(t, err, shoptoken.ErrBadRequest)
	assert.Contains(t, err.Error(), "Config.BaseURL")
	var nilCache *shoptoken.Cache
	for name, src := range map[string]shoptoken.TokenSource{"nil": nil, "nil *Cache": nilCache} {
		cl, err := NewClient(emuConfig(emu), src)
		require.ErrorIs(t, err, shoptoken.ErrBadRequest, "%s: a nil source is an error, not a panic", name)
		assert.Nil(t, cl)
	}
	cl, err := NewClient(Config{VEKey: "vekey"}, src)
	require.NoError(t, err, "App is not needed to call APIs")
	assert.NotNil(t, cl)
}
