package shoptokentest_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken/shoptokentest"
)

// hiddenFields reads the hidden inputs of a consent page, as a browser would submit them.
func hiddenFields(t *testing.T, page []byte) url.Values {
	t.Helper()
	re := regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)
	form := url.Values{}
	for _, m := range re.FindAllStringSubmatch(string(page), -1) {
		form.Set(unescapeHTML(m[1]), unescapeHTML(m[2]))
	}
	require.NotEmpty(t, form, "no hidden fields in %s", page)
	return form
}

func unescapeHTML(s string) string {
	return strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">", "&#34;", `"`, "&#39;", "'").Replace(s)
}

func noFollow(c *http.Client) *http.Client {
	cp := *c
	cp.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &cp
}

func TestVipAuth_consentPage(t *testing.T) {
	v := shoptokentest.NewVipAuth(shoptokentest.WithConsentPage())
	defer v.Close()
	c := noFollow(v.Client())

	page := get(t, c, authorizeURL(v, cb, "s1"))
	require.Equal(t, http.StatusOK, page.status)
	assert.Contains(t, page.ctype, "text/html")
	for _, want := range []string{`id="authorize"`, `id="deny"`, "授权 / Authorize", "拒绝 / Deny", shoptokentest.VipAuthOpenID} {
		assert.Contains(t, string(page.body), want)
	}
	form := hiddenFields(t, page.body)
	assert.Equal(t, "s1", form.Get("state"))

	t.Run("authorize", func(t *testing.T) {
		allow := url.Values{"decision": {"allow"}}
		for k, vs := range form {
			allow[k] = vs
		}
		r := postForm(t, c, v.OAuthURL+"/authorize", allow)
		require.Equal(t, http.StatusFound, r.status)
		loc, err := url.Parse(r.header.Get("Location"))
		require.NoError(t, err)
		assert.Equal(t, cb, loc.Scheme+"://"+loc.Host+loc.Path)
		assert.Equal(t, "s1", loc.Query().Get("state"))
		code := loc.Query().Get("code")
		require.NotEmpty(t, code)
		m := vaExchange(t, v, code, cb)
		assert.Equal(t, shoptokentest.VipAuthOpenID, m["open_id"])
	})
	t.Run("deny", func(t *testing.T) {
		deny := url.Values{"decision": {"deny"}}
		for k, vs := range form {
			deny[k] = vs
		}
		r := postForm(t, c, v.OAuthURL+"/authorize", deny)
		require.Equal(t, http.StatusFound, r.status)
		loc, err := url.Parse(r.header.Get("Location"))
		require.NoError(t, err)
		assert.Equal(t, "access_denied", loc.Query().Get("error"))
		assert.Equal(t, "s1", loc.Query().Get("state"))
		assert.Empty(t, loc.Query().Get("code"))
	})
	t.Run("a form edited to another redirect gets no code", func(t *testing.T) {
		evil := url.Values{"decision": {"allow"}}
		for k, vs := range form {
			evil[k] = vs
		}
		evil.Set("redirect_uri", "https://evil.example.com/steal")
		r := postForm(t, c, v.OAuthURL+"/authorize", evil)
		assert.Equal(t, http.StatusBadRequest, r.status)
		assert.Empty(t, r.header.Get("Location"))
	})
	t.Run("DenyNext refuses an Authorize", func(t *testing.T) {
		v.DenyNext()
		allow := url.Values{"decision": {"allow"}}
		for k, vs := range form {
			allow[k] = vs
		}
		r := postForm(t, c, v.OAuthURL+"/authorize", allow)
		require.Equal(t, http.StatusFound, r.status)
		loc, err := url.Parse(r.header.Get("Location"))
		require.NoError(t, err)
		assert.Equal(t, "access_denied", loc.Query().Get("error"))
	})
	assert.Equal(t, shoptokentest.Stats{TokenRequests: 1, Issued: 1}, v.Stats(), "authorize pages are not counted")
}

func yzAuthorizeURL(y *shoptokentest.Youzan, redirect, state string) string {
	q := url.Values{"client_id": {"id"}, "response_type": {"code"}}
	if redirect != "" {
		q.Set("redirect_uri", redirect)
	}
	if state != "" {
		q.Set("state", state)
	}
	return y.AuthorizeURL + "?" + q.Encode()
}

func yzExchange(t *testing.T, y *shoptokentest.Youzan, code string) map[string]any {
	t.Helper()
	r := postJSON(t, y.Client(), y.URL+"/auth/token",
		`{"client_id":"id","client_secret":"secret","authorize_type":"authorization_code","code":"`+code+`"}`)
	require.Equal(t, http.StatusOK, r.status)
	m := r.obj(t)
	require.Equal(t, true, m["success"], "body: %s", r.body)
	return sub(t, m, "data")
}

func TestYouzan_authorize(t *testing.T) {
	const reg = shoptokentest.YouzanRedirectURI

	t.Run("consents at once, to the registered callback, as ConsentAs", func(t *testing.T) {
		y := shoptokentest.NewYouzan()
		defer y.Close()
		c := noFollow(y.Client())
		for _, redirect := range []string{"", reg} {
			r := get(t, c, yzAuthorizeURL(y, redirect, "st"))
			require.Equal(t, http.StatusFound, r.status, "body: %s", r.body)
			loc, err := url.Parse(r.header.Get("Location"))
			require.NoError(t, err)
			assert.Equal(t, reg, loc.Scheme+"://"+loc.Host+loc.Path)
			assert.Equal(t, "st", loc.Query().Get("state"))
			data := yzExchange(t, y, loc.Query().Get("code"))
			assert.Equal(t, shoptokentest.YouzanGrantID, data["authority_id"])
		}
		y.ConsentAs("12345")
		r := get(t, c, yzAuthorizeURL(y, "", ""))
		require.Equal(t, http.StatusFound, r.status)
		loc, err := url.Parse(r.header.Get("Location"))
		require.NoError(t, err)
		assert.False(t, loc.Query().Has("state"))
		assert.Equal(t, "12345", yzExchange(t, y, loc.Query().Get("code"))["authority_id"])
	})

	t.Run("strict refusals issue no code", func(t *testing.T) {
		y := shoptokentest.NewYouzan()
		defer y.Close()
		c := noFollow(y.Client())
		for name, u := range map[string]string{
			"unregistered redirect": yzAuthorizeURL(y, "https://evil.example.com/cb", "st"),
			"another client":        strings.Replace(yzAuthorizeURL(y, "", "st"), "client_id=id", "client_id=who", 1),
			"response_type token":   strings.Replace(yzAuthorizeURL(y, "", "st"), "response_type=code", "response_type=token", 1),
		} {
			r := get(t, c, u)
			assert.Equal(t, http.StatusBadRequest, r.status, name)
			assert.Empty(t, r.header.Get("Location"), name)
			assert.Equal(t, false, r.obj(t)["success"], name)
		}
	})

	t.Run("lenient takes any absolute callback", func(t *testing.T) {
		y := shoptokentest.NewYouzan(shoptokentest.Lenient())
		defer y.Close()
		r := get(t, noFollow(y.Client()), yzAuthorizeURL(y, "https://other.example.com/cb", "st"))
		require.Equal(t, http.StatusFound, r.status)
		assert.True(t, strings.HasPrefix(r.header.Get("Location"), "https://other.example.com/cb?"))
	})

	t.Run("consent page: authorize and deny", func(t *testing.T) {
		y := shoptokentest.NewYouzan(shoptokentest.WithConsentPage(), shoptokentest.WithRedirectURIs("http://127.0.0.1:1/cb"))
		defer y.Close()
		c := noFollow(y.Client())
		page := get(t, c, yzAuthorizeURL(y, "", "st"))
		require.Equal(t, http.StatusOK, page.status)
		assert.Contains(t, string(page.body), `id="authorize"`)
		assert.Contains(t, string(page.body), shoptokentest.YouzanGrantID)
		form := hiddenFields(t, page.body)

		form.Set("decision", "deny")
		r := postForm(t, c, y.AuthorizeURL, form)
		require.Equal(t, http.StatusFound, r.status)
		loc, err := url.Parse(r.header.Get("Location"))
		require.NoError(t, err)
		assert.Equal(t, "http://127.0.0.1:1/cb", loc.Scheme+"://"+loc.Host+loc.Path)
		assert.Equal(t, "access_denied", loc.Query().Get("error"))
		assert.Equal(t, "st", loc.Query().Get("state"))

		form.Set("decision", "allow")
		r = postForm(t, c, y.AuthorizeURL, form)
		require.Equal(t, http.StatusFound, r.status)
		loc, err = url.Parse(r.header.Get("Location"))
		require.NoError(t, err)
		assert.NotEmpty(t, yzExchange(t, y, loc.Query().Get("code"))["access_token"])

		y.DenyNext()
		r = postForm(t, c, y.AuthorizeURL, form)
		loc, err = url.Parse(r.header.Get("Location"))
		require.NoError(t, err)
		assert.Equal(t, "access_denied", loc.Query().Get("error"))
	})
}
