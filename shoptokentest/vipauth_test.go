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

const cb = shoptokentest.VipAuthRedirectURI

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

// postQuery POSTs with every parameter in the query string, as the platform's examples do.
func postQuery(t *testing.T, c *http.Client, u string, params url.Values) reply {
	t.Helper()
	return do(t, c, newReq(t, http.MethodPost, u+"?"+params.Encode(), nil, ""))
}

func vaExchange(t *testing.T, v *shoptokentest.VipAuth, code, redirect string) map[string]any {
	t.Helper()
	r := postQuery(t, v.Client(), v.OAuthURL+"/token", exchangeForm(code, redirect))
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
	clk := shoptokentest.NewClock(time.Date(2015, 3, 13, 9, 24, 20, 0, time.UTC))
	v := shoptokentest.NewVipAuth(shoptokentest.WithClock(clk), shoptokentest.WithTokenTTL(12340*time.Second),
		shoptokentest.WithRedirectURIs(cb+"?from=vip"))
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

	clk.Advance(12340 * time.Second)
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
	v := shoptokentest.NewVipAuth(shoptokentest.WithClock(clk))
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
		n, msg := vaErr(t, postQuery(t, v.Client(), tokenURL, tt.form))
		assert.Equal(t, tt.code, n, tt.name)
		assert.NotEmpty(t, msg, tt.name)
	}
	// None of the failures used the code up.
	m := vaExchange(t, v, code, cb)
	assert.Equal(t, "U1", str(t, m, "open_id"))
	n, msg := vaErr(t, postQuery(t, v.Client(), tokenURL, exchangeForm(code, cb)))
	assert.Equal(t, int64(30001), n, "single use")
	assert.Equal(t, "invalid code", msg)

	expired := v.NewCode("U1", cb)
	clk.Advance(10 * time.Minute)
	n, _ = vaErr(t, postQuery(t, v.Client(), tokenURL, exchangeForm(expired, cb)))
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

	// Strict, a token in a form body is not read: it counts as no token.
	r = postForm(t, c, v.OAuthURL+"/revoke_token", url.Values{"access_token": {b}})
	assert.JSONEq(t, `{"code":30111,"msg":"access token invalid"}`, string(r.body))
	assert.True(t, v.Valid(b))

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

// Strict (the default): parameters only in the query string, where the platform's examples put
// them; only registered redirect URIs (and OOB) get a code. Lenient accepts a form body and any
// redirect URI.
func TestVipAuth_strict(t *testing.T) {
	t.Parallel()
	const other = "https://evil.example/cb"
	strict := shoptokentest.NewVipAuth()
	defer strict.Close()
	lenient := shoptokentest.NewVipAuth(shoptokentest.Lenient())
	defer lenient.Close()

	// authorize: an unregistered redirect URI gets no code and no redirect.
	r := get(t, noRedirect(strict), authorizeURL(strict, other, "s"))
	assert.Equal(t, http.StatusBadRequest, r.status)
	assert.Empty(t, r.header.Get("Location"))
	assert.NotContains(t, string(r.body), "code=")
	n, msg := vaErr(t, r)
	assert.Equal(t, int64(30003), n)
	assert.Equal(t, "redirect_uri not registered", msg)
	for _, ok := range []string{cb, shoptokentest.OOB} {
		r = get(t, noRedirect(strict), authorizeURL(strict, ok, "s"))
		assert.Contains(t, []int{http.StatusFound, http.StatusOK}, r.status, ok)
	}
	r = get(t, noRedirect(lenient), authorizeURL(lenient, other, "s"))
	require.Equal(t, http.StatusFound, r.status)

	// token: a code bound to an unregistered URI (NewCode does not check) is not exchanged.
	n, msg = vaErr(t, postQuery(t, strict.Client(), strict.OAuthURL+"/token", exchangeForm(strict.NewCode("U", other), other)))
	assert.Equal(t, int64(30003), n)
	assert.Equal(t, "redirect_uri not registered", msg)
	assert.Equal(t, "U", str(t, vaExchange(t, lenient, lenient.NewCode("U", other), other), "open_id"))

	// token: parameters in a form body count as missing, and the code is not used up.
	code := strict.NewCode("U", cb)
	n, msg = vaErr(t, postForm(t, strict.Client(), strict.OAuthURL+"/token", exchangeForm(code, cb)))
	assert.Equal(t, int64(30002), n, "no client_id in the query: %s", msg)
	tok := str(t, vaExchange(t, strict, code, cb), "access_token")
	r = postForm(t, lenient.Client(), lenient.OAuthURL+"/token", exchangeForm(lenient.NewCode("U", cb), cb))
	assert.Equal(t, []string{"access_token", "expires_in", "open_id"}, keys(t, r.body), "lenient reads the form")

	// token_info and the API read access_token from the query only.
	r = postForm(t, strict.Client(), strict.OAuthURL+"/token_info", url.Values{"access_token": {tok}})
	assert.JSONEq(t, `{"code":30111,"msg":"access token invalid"}`, string(r.body))
	r = postForm(t, strict.Client(), strict.URL+"/api/account/info", url.Values{"access_token": {tok}})
	assert.JSONEq(t, `{"code":30111,"msg":"access token invalid"}`, string(r.body))
	r = postQuery(t, strict.Client(), strict.OAuthURL+"/token_info", url.Values{"access_token": {tok}})
	assert.Equal(t, "U", str(t, r.obj(t), "open_id"))

	// WithRedirectURIs replaces the default list.
	custom := shoptokentest.NewVipAuth(shoptokentest.WithRedirectURIs(other))
	defer custom.Close()
	assert.Equal(t, http.StatusFound, get(t, noRedirect(custom), authorizeURL(custom, other, "")).status)
	assert.Equal(t, http.StatusBadRequest, get(t, noRedirect(custom), authorizeURL(custom, cb, "")).status)
}
