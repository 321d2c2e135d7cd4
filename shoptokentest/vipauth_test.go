package shoptokentest_test

import (
	"net/http"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken/shoptokentest"
)

const cb = "https://isv.example.com/cb"

// noRedirect is a client that shows the authorize redirect instead of following it.
func noRedirect(v *shoptokentest.VipAuth) *http.Client {
	c := *v.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

func authorizeURL(v *shoptokentest.VipAuth, redirect, state string) string {
	q := url.Values{"client_id": {"id"}, "response_type": {"code"}, "redirect_uri": {redirect}}
	if state != "" {
		q.Set("state", state)
	}
	return v.OAuthURL + "/authorize?" + q.Encode()
}

func exchangeForm(code, redirect string) url.Values {
	return url.Values{
		"client_id": {"id"}, "client_secret": {"secret"}, "grant_type": {"authorization_code"},
		"redirect_uri": {redirect}, "request_client_ip": {"127.0.0.1"}, "code": {code},
	}
}

func vaExchange(t *testing.T, v *shoptokentest.VipAuth, code, redirect string) map[string]any {
	t.Helper()
	r := postForm(t, v.Client(), v.OAuthURL+"/token", exchangeForm(code, redirect))
	require.Equal(t, 200, r.status)
	m := r.obj(t)
	require.Contains(t, m, "access_token", "body: %s", r.body)
	return m
}

func vaErr(t *testing.T, r reply) (int64, string) {
	t.Helper()
	m := r.obj(t)
	assert.Equal(t, []string{"code", "msg"}, keys(t, r.body))
	return num(t, m, "code"), str(t, m, "msg")
}

func TestVipAuth_happyPath(t *testing.T) {
	t.Parallel()
	// 2015-03-13 17:24:20 in China is 09:24:20 UTC.
	clk := &clock{t: time.Date(2015, 3, 13, 9, 24, 20, 0, time.UTC)}
	v := shoptokentest.NewVipAuth(shoptokentest.WithClock(clk.Now), shoptokentest.WithTokenTTL(12340*time.Second))
	defer v.Close()

	r := get(t, noRedirect(v), authorizeURL(v, cb+"?from=vip", "xyz"))
	require.Equal(t, http.StatusFound, r.status)
	loc, err := url.Parse(r.header.Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, "isv.example.com", loc.Host)
	assert.Equal(t, "xyz", loc.Query().Get("state"))
	assert.Equal(t, "vip", loc.Query().Get("from"))
	code := loc.Query().Get("code")
	require.NotEmpty(t, code)

	// Parameters in the query string, as in the platform's example.
	tr := do(t, v.Client(), newReq(t, http.MethodPost, v.OAuthURL+"/token?"+exchangeForm(code, cb+"?from=vip").Encode(), nil, ""))
	require.Equal(t, 200, tr.status)
	assert.Equal(t, []string{"access_token", "expires_in", "open_id"}, keys(t, tr.body))
	m := tr.obj(t)
	tok := str(t, m, "access_token")
	assert.Regexp(t, regexp.MustCompile(`^[0-9A-F]{40}$`), tok)
	assert.Equal(t, int64(12340), num(t, m, "expires_in"))
	assert.Equal(t, shoptokentest.VipAuthOpenID, str(t, m, "open_id"))
	assert.True(t, v.Valid(tok))

	api := get(t, v.Client(), v.URL+"/api/account/info?access_token="+tok)
	assert.JSONEq(t, `{"code":0,"data":{"open_id":"`+shoptokentest.VipAuthOpenID+`"}}`, string(api.body))

	info := postForm(t, v.Client(), v.OAuthURL+"/token_info?access_token="+tok, nil)
	require.Equal(t, 200, info.status)
	assert.Equal(t, []string{"access_token", "create_at", "expires_in", "expires_time", "open_id", "token_type"}, keys(t, info.body))
	assert.JSONEq(t, `{"access_token":"`+tok+`","create_at":"2015-03-13 17:24:20","expires_in":12340,
		"expires_time":"2015-03-13 20:50:00","open_id":"`+shoptokentest.VipAuthOpenID+`","token_type":"Bearer"}`, string(info.body))

	assert.Equal(t, shoptokentest.Stats{TokenRequests: 1, Issued: 1, APICalls: 2}, v.Stats())

	clk.Add(12340 * time.Second)
	assert.False(t, v.Valid(tok))
	n, msg := vaErr(t, get(t, v.Client(), v.URL+"/api/account/info?access_token="+tok))
	assert.Equal(t, int64(30111), n)
	assert.Equal(t, "access token invalid", msg)
}

func TestVipAuth_oob(t *testing.T) {
	t.Parallel()
	v := shoptokentest.NewVipAuth()
	defer v.Close()

	r := get(t, v.Client(), authorizeURL(v, shoptokentest.OOB, "1212")+"&display=mobile")
	require.Equal(t, 200, r.status)
	assert.Contains(t, r.ctype, "text/html")
	sm := regexp.MustCompile(`<code id="code">([^<]+)</code>`).FindSubmatch(r.body)
	require.Len(t, sm, 2, "page: %s", r.body)
	m := vaExchange(t, v, string(sm[1]), shoptokentest.OOB)
	assert.Equal(t, shoptokentest.VipAuthOpenID, str(t, m, "open_id"))

	v.DenyNext()
	r = get(t, v.Client(), authorizeURL(v, shoptokentest.OOB, ""))
	assert.Contains(t, string(r.body), `<span id="error">access_denied</span>`)
	assert.NotContains(t, string(r.body), `<code id="code">`)
}

func TestVipAuth_DenyNext(t *testing.T) {
	t.Parallel()
	v := shoptokentest.NewVipAuth()
	defer v.Close()

	v.DenyNext()
	r := get(t, noRedirect(v), authorizeURL(v, cb, "s1"))
	require.Equal(t, http.StatusFound, r.status)
	loc, err := url.Parse(r.header.Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, "access_denied", loc.Query().Get("error"))
	assert.NotEmpty(t, loc.Query().Get("error_description"))
	assert.Equal(t, "s1", loc.Query().Get("state"))
	assert.Empty(t, loc.Query().Get("code"))

	r = get(t, noRedirect(v), authorizeURL(v, cb, ""))
	loc, err = url.Parse(r.header.Get("Location"))
	require.NoError(t, err)
	assert.NotEmpty(t, loc.Query().Get("code"), "only the next one is denied")

	// Authorize errors are not counted: the browser is not the SDK.
	assert.Equal(t, shoptokentest.Stats{}, v.Stats())

	r = get(t, noRedirect(v), v.OAuthURL+"/authorize?client_id=who&response_type=code&redirect_uri="+url.QueryEscape(cb))
	assert.Equal(t, http.StatusBadRequest, r.status)
	n, _ := vaErr(t, r)
	assert.Equal(t, int64(30002), n)
}

func TestVipAuth_ConsentAs(t *testing.T) {
	t.Parallel()
	v := shoptokentest.NewVipAuth()
	defer v.Close()
	v.ConsentAs("USER2")
	r := get(t, noRedirect(v), authorizeURL(v, cb, ""))
	loc, err := url.Parse(r.header.Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, "USER2", str(t, vaExchange(t, v, loc.Query().Get("code"), cb), "open_id"))
}

func TestVipAuth_Token_errors(t *testing.T) {
	t.Parallel()
	clk := newClock()
	v := shoptokentest.NewVipAuth(shoptokentest.WithClock(clk.Now))
	defer v.Close()
	tokenURL := v.OAuthURL + "/token"
	code := v.NewCode("U1", cb)

	with := func(k, val string) url.Values {
		f := exchangeForm(code, cb)
		if val == "" {
			f.Del(k)
		} else {
			f.Set(k, val)
		}
		return f
	}
	tests := []struct {
		name string
		form url.Values
		code int64
	}{
		{"wrong secret", with("client_secret", "nope"), 30002},
		{"unknown client", with("client_id", "who"), 30002},
		{"grant type", with("grant_type", "refresh_token"), 30005},
		{"no client ip", with("request_client_ip", ""), 30004},
		{"no code", with("code", ""), 30004},
		{"unknown code", with("code", "ABC"), 30001},
		{"redirect mismatch", with("redirect_uri", cb+"/other"), 30003},
	}
	for _, tt := range tests {
		n, msg := vaErr(t, postForm(t, v.Client(), tokenURL, tt.form))
		assert.Equal(t, tt.code, n, tt.name)
		assert.NotEmpty(t, msg, tt.name)
	}
	// None of the failures used the code up.
	m := vaExchange(t, v, code, cb)
	assert.Equal(t, "U1", str(t, m, "open_id"))
	n, msg := vaErr(t, postForm(t, v.Client(), tokenURL, exchangeForm(code, cb)))
	assert.Equal(t, int64(30001), n, "single use")
	assert.Equal(t, "invalid code", msg)

	expired := v.NewCode("U1", cb)
	clk.Add(10 * time.Minute)
	n, _ = vaErr(t, postForm(t, v.Client(), tokenURL, exchangeForm(expired, cb)))
	assert.Equal(t, int64(30001), n, "expired code")

	st := v.Stats()
	assert.Equal(t, 10, st.TokenRequests)
	assert.Equal(t, 9, st.Errors)
	assert.Equal(t, 1, st.Issued)
}

func TestVipAuth_revoke(t *testing.T) {
	t.Parallel()
	v := shoptokentest.NewVipAuth()
	defer v.Close()
	c := v.Client()

	a := str(t, vaExchange(t, v, v.NewCode("U1", cb), cb), "access_token")
	b := str(t, vaExchange(t, v, v.NewCode("U1", cb), cb), "access_token")
	assert.True(t, v.Valid(a), "a new exchange does not end the user's earlier token")

	r := postForm(t, c, v.OAuthURL+"/revoke_token?access_token="+a, nil)
	assert.JSONEq(t, `{"code":0,"msg":"success"}`, string(r.body))
	assert.False(t, v.Valid(a))
	assert.JSONEq(t, `{"code":0,"msg":"token revoked"}`, string(postForm(t, c, v.OAuthURL+"/token_info?access_token="+a, nil).body))
	assert.JSONEq(t, `{"code":30111,"msg":"access token invalid"}`, string(postForm(t, c, v.OAuthURL+"/revoke_token?access_token="+a, nil).body))
	assert.JSONEq(t, `{"code":30111,"msg":"access token invalid"}`, string(get(t, c, v.URL+"/api/account/info?access_token="+a).body))
	assert.True(t, v.Valid(b))

	// Revoke takes the token as a form too.
	r = postForm(t, c, v.OAuthURL+"/revoke_token", url.Values{"access_token": {"nope"}})
	assert.JSONEq(t, `{"code":30111,"msg":"access token invalid"}`, string(r.body))

	v.RevokeUser("U1")
	assert.False(t, v.Valid(b))
	assert.JSONEq(t, `{"code":0,"msg":"token revoked"}`, string(postForm(t, c, v.OAuthURL+"/token_info?access_token="+b, nil).body))

	x := str(t, vaExchange(t, v, v.NewCode("U2", cb), cb), "access_token")
	v.ExpireNow()
	assert.False(t, v.Valid(x))
	assert.JSONEq(t, `{"code":30111,"msg":"access token invalid"}`, string(postForm(t, c, v.OAuthURL+"/token_info?access_token="+x, nil).body))

	st := v.Stats()
	assert.Equal(t, 3, st.Issued)
	assert.Equal(t, 7, st.APICalls)
	assert.Equal(t, 6, st.Rejected)

	assert.Equal(t, http.StatusMethodNotAllowed, get(t, c, v.OAuthURL+"/token_info?access_token="+x).status)
}
