package shoptokentest_test

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken/shoptokentest"
)

var vvCreds = url.Values{"grant_type": {"client_credentials"}, "client_id": {"account"}, "client_secret": {"key"}}

// vvFetch fetches a token (multipart, as the seed's curl does) from the given IP.
func vvFetch(t *testing.T, v *shoptokentest.VVTool, ip string) map[string]any {
	t.Helper()
	r := postMultipart(t, v.Client(), v.URL+"/oauth/token", vvCreds, "X-Forwarded-For", ip)
	require.Equal(t, 200, r.status, "body: %s", r.body)
	return r.obj(t)
}

func vvInfo(t *testing.T, v *shoptokentest.VVTool, token, ip string) reply {
	t.Helper()
	return get(t, v.Client(), v.URL+"/tool/members/info", "Authorization", "Bearer "+token, "X-Forwarded-For", ip)
}

func assertVVRejected(t *testing.T, r reply) {
	t.Helper()
	assert.Equal(t, http.StatusUnauthorized, r.status)
	assert.JSONEq(t, `{"code":401,"msg":"身份凭证无效"}`, string(r.body))
}

func TestVVTool_happyPath(t *testing.T) {
	t.Parallel()
	v := shoptokentest.NewVVTool(shoptokentest.WithIPHeader("X-Forwarded-For"))
	defer v.Close()

	r := postMultipart(t, v.Client(), v.URL+"/oauth/token", vvCreds, "X-Forwarded-For", "10.0.0.1")
	require.Equal(t, 200, r.status)
	assert.Equal(t, []string{"access_token", "expires_in", "token_type", "scope"}, keys(t, r.body))
	m := r.obj(t)
	tok := str(t, m, "access_token")
	assert.Regexp(t, regexp.MustCompile(`^[0-9a-f]{40}$`), tok)
	assert.Equal(t, int64(3000*24*3600), num(t, m, "expires_in"))
	assert.Equal(t, "Bearer", str(t, m, "token_type"))
	assert.Equal(t, "", str(t, m, "scope"))

	info := vvInfo(t, v, tok, "10.0.0.1")
	require.Equal(t, 200, info.status)
	assert.JSONEq(t, `{"code":0,"msg":"成功","data":{"account":"account","ip":"10.0.0.1"}}`, string(info.body))
	post := do(t, v.Client(), newReq(t, http.MethodPost, v.URL+"/tool/members/info", nil, "", "Authorization", "Bearer "+tok, "X-Forwarded-For", "10.0.0.1"))
	assert.Equal(t, 200, post.status)

	assert.Equal(t, shoptokentest.Stats{TokenRequests: 1, Issued: 1, APICalls: 2}, v.Stats())
}

// Strict (the default), credentials travel only in a multipart body, as the seed's curl --form
// sends them; lenient, urlencoded bodies and the query work too.
func TestVVTool_strictEncoding(t *testing.T) {
	t.Parallel()
	strict := shoptokentest.NewVVTool()
	defer strict.Close()
	lenient := shoptokentest.NewVVTool(shoptokentest.Lenient())
	defer lenient.Close()

	for _, ep := range []string{"/oauth/token", "/api/proxy/oauth/token"} {
		wrapped := ep != "/oauth/token"
		requests := map[string]func(v *shoptokentest.VVTool) reply{
			"urlencoded body": func(v *shoptokentest.VVTool) reply { return postForm(t, v.Client(), v.URL+ep, vvCreds) },
			"query": func(v *shoptokentest.VVTool) reply {
				return do(t, v.Client(), newReq(t, http.MethodPost, v.URL+ep+"?"+vvCreds.Encode(), nil, ""))
			},
			"multipart body and a query": func(v *shoptokentest.VVTool) reply {
				return postMultipart(t, v.Client(), v.URL+ep+"?client_secret=key", vvCreds)
			},
			"JSON body": func(v *shoptokentest.VVTool) reply {
				return postJSON(t, v.Client(), v.URL+ep, `{"grant_type":"client_credentials","client_id":"account","client_secret":"key"}`)
			},
		}
		for name, send := range requests {
			strict.ResetStats()
			r := send(strict)
			if wrapped {
				assert.Equal(t, 200, r.status, "%s %s", ep, name)
				assert.Contains(t, str(t, r.obj(t), "msg"), "参数错误", "%s %s", ep, name)
			} else {
				assert.Equal(t, http.StatusBadRequest, r.status, "%s %s", ep, name)
				m := r.obj(t)
				assert.Equal(t, "invalid_request", str(t, m, "error"), "%s %s", ep, name)
				assert.Contains(t, str(t, m, "message"), "multipart/form-data", "%s %s: the refusal says why", ep, name)
			}
			assert.Equal(t, shoptokentest.Stats{TokenRequests: 1, Errors: 1}, strict.Stats(), "%s %s: nothing issued", ep, name)

			if name == "JSON body" {
				continue // not a form in any mode
			}
			r = send(lenient)
			assert.Equal(t, 200, r.status, "lenient %s %s: %s", ep, name, r.body)
		}
		r := postMultipart(t, strict.Client(), strict.URL+ep, vvCreds)
		assert.Equal(t, 200, r.status, "%s: the seed's multipart", ep)
	}
}

func TestVVTool_fetchKillsPrevious(t *testing.T) {
	t.Parallel()
	v := shoptokentest.NewVVTool()
	defer v.Close()

	a := str(t, vvFetch(t, v, ""), "access_token")
	b := str(t, vvFetch(t, v, ""), "access_token")
	require.NotEqual(t, a, b)

	assertVVRejected(t, vvInfo(t, v, a, ""))
	assert.Equal(t, 200, vvInfo(t, v, b, "").status)
	assert.False(t, v.Valid(a))
	assert.True(t, v.Valid(b))

	st := v.Stats()
	assert.Equal(t, 2, st.Issued)
	assert.Equal(t, 1, st.Rejected)
	assert.Equal(t, 2, st.APICalls)
}

func TestVVTool_proxyEndpoint(t *testing.T) {
	t.Parallel()
	v := shoptokentest.NewVVTool()
	defer v.Close()

	a := str(t, vvFetch(t, v, ""), "access_token")
	r := postMultipart(t, v.Client(), v.URL+"/api/proxy/oauth/token", vvCreds)
	require.Equal(t, 200, r.status)
	assert.Equal(t, []string{"code", "msg", "data"}, keys(t, r.body))
	m := r.obj(t)
	assert.Equal(t, int64(0), num(t, m, "code"))
	assert.Equal(t, "成功", str(t, m, "msg"))
	d := sub(t, m, "data")
	assert.Equal(t, []string{"access_token", "expires_in", "token_type", "scope"}, keys(t, mustRaw(t, r.body, "data")))
	b := str(t, d, "access_token")
	assert.False(t, v.Valid(a), "the proxy endpoint kills the previous token too")
	assert.True(t, v.Valid(b))

	bad := url.Values{"grant_type": {"client_credentials"}, "client_id": {"account"}, "client_secret": {"wrong"}}
	r = postMultipart(t, v.Client(), v.URL+"/api/proxy/oauth/token", bad)
	assert.Equal(t, 200, r.status)
	assert.JSONEq(t, `{"code":400,"msg":"client_id或client_secret错误","data":null}`, string(r.body))
	assert.True(t, v.Valid(b), "a failed fetch kills nothing")

	st := v.Stats()
	assert.Equal(t, 3, st.TokenRequests)
	assert.Equal(t, 2, st.Issued)
	assert.Equal(t, 1, st.Errors)
}

func TestVVTool_tokenErrors(t *testing.T) {
	t.Parallel()
	v := shoptokentest.NewVVTool(shoptokentest.WithCredentials("23b9530c14856xxx", "c209580b23b9530c1485699d5c4b2xxx"))
	defer v.Close()
	tokenURL := v.URL + "/oauth/token"

	r := postMultipart(t, v.Client(), tokenURL, vvCreds) // the defaults are no longer accepted
	assert.Equal(t, http.StatusUnauthorized, r.status)
	m := r.obj(t)
	assert.Equal(t, "invalid_client", str(t, m, "error"))
	assert.Equal(t, "Client authentication failed", str(t, m, "error_description"))

	r = postMultipart(t, v.Client(), tokenURL, url.Values{"grant_type": {"password"}, "client_id": {"23b9530c14856xxx"}, "client_secret": {"c209580b23b9530c1485699d5c4b2xxx"}})
	assert.Equal(t, http.StatusBadRequest, r.status)
	assert.Equal(t, "unsupported_grant_type", str(t, r.obj(t), "error"))

	r = get(t, v.Client(), tokenURL)
	assert.Equal(t, http.StatusBadRequest, r.status)
	assert.Equal(t, "invalid_request", str(t, r.obj(t), "error"))

	r = postMultipart(t, v.Client(), tokenURL, url.Values{"grant_type": {"client_credentials"}, "client_id": {"23b9530c14856xxx"}, "client_secret": {"c209580b23b9530c1485699d5c4b2xxx"}})
	assert.Equal(t, 200, r.status)

	assert.Equal(t, shoptokentest.Stats{TokenRequests: 4, Issued: 1, Errors: 3}, v.Stats())
}

func TestVVTool_ipBinding(t *testing.T) {
	t.Parallel()
	v := shoptokentest.NewVVTool(shoptokentest.WithIPHeader("X-Forwarded-For"))
	defer v.Close()

	tok := str(t, vvFetch(t, v, "10.0.0.1"), "access_token")
	assert.Equal(t, 200, vvInfo(t, v, tok, "10.0.0.1").status)
	assertVVRejected(t, vvInfo(t, v, tok, "10.0.0.2, 10.0.0.1"))
	assertVVRejected(t, vvInfo(t, v, tok, "10.0.0.1")) // judged stolen: dead from every IP
	assert.False(t, v.Valid(tok))

	st := v.Stats()
	assert.Equal(t, 1, st.Issued)
	assert.Equal(t, 3, st.APICalls)
	assert.Equal(t, 2, st.Rejected)
}

func TestVVTool_ipFromRemoteAddr(t *testing.T) {
	t.Parallel()
	v := shoptokentest.NewVVTool() // no header: the header is ignored
	defer v.Close()
	tok := str(t, vvFetch(t, v, "10.0.0.1"), "access_token")
	r := vvInfo(t, v, tok, "10.9.9.9")
	require.Equal(t, 200, r.status)
	assert.Equal(t, "127.0.0.1", str(t, sub(t, r.obj(t), "data"), "ip"))
}

func TestVVTool_SetRejectStyle(t *testing.T) {
	t.Parallel()
	v := shoptokentest.NewVVTool()
	defer v.Close()

	assertVVRejected(t, get(t, v.Client(), v.URL+"/tool/members/info")) // no header at all

	v.SetRejectStyle(shoptokentest.RejectHTTP200)
	r := vvInfo(t, v, "nope", "")
	assert.Equal(t, 200, r.status)
	assert.JSONEq(t, `{"code":401,"msg":"身份凭证无效"}`, string(r.body))

	v.SetRejectStyle(shoptokentest.RejectPlainText)
	r = vvInfo(t, v, "nope", "")
	assert.Equal(t, http.StatusUnauthorized, r.status)
	assert.Equal(t, shoptokentest.VVToolInvalid, string(r.body))
	assert.Contains(t, r.ctype, "text/plain")

	v.SetRejectStyle(shoptokentest.RejectHTTP401)
	assertVVRejected(t, vvInfo(t, v, "nope", ""))

	assert.Equal(t, 4, v.Stats().Rejected)
}

func TestVVTool_expiry(t *testing.T) {
	t.Parallel()
	clk := newClock()
	v := shoptokentest.NewVVTool(shoptokentest.WithClock(clk), shoptokentest.WithTokenTTL(time.Hour))
	defer v.Close()

	m := vvFetch(t, v, "")
	assert.Equal(t, int64(3600), num(t, m, "expires_in"))
	tok := str(t, m, "access_token")
	clk.Advance(59 * time.Minute)
	assert.Equal(t, 200, vvInfo(t, v, tok, "").status)
	clk.Advance(time.Minute)
	assertVVRejected(t, vvInfo(t, v, tok, ""))

	tok = str(t, vvFetch(t, v, ""), "access_token")
	v.ExpireNow()
	assert.False(t, v.Valid(tok))
	assertVVRejected(t, vvInfo(t, v, tok, ""))
	assert.Equal(t, 2, v.Stats().Rejected)
}

// The abuse rule as the seed states it: a sudden several-fold jump in a token's API calls
// shortens that token's validity. Token fetches do not count.
func TestVVTool_abuseRule(t *testing.T) {
	t.Parallel()
	clk := newClock()
	v := shoptokentest.NewVVTool(shoptokentest.WithClock(clk), shoptokentest.WithAbuseRule(3, time.Minute))
	defer v.Close()

	// Many fetches in a minute shorten nothing: the rule is about call volume.
	for range 5 {
		assert.Equal(t, int64(3000*24*3600), num(t, vvFetch(t, v, ""), "expires_in"))
	}
	tok := str(t, vvFetch(t, v, ""), "access_token")

	calls := func(n int) {
		t.Helper()
		for range n {
			require.Equal(t, 200, vvInfo(t, v, tok, "").status)
		}
	}
	calls(2) // window 0: the baseline
	clk.Advance(time.Minute)
	calls(6) // window 1: three times the baseline is not more than three times
	clk.Advance(time.Minute)
	calls(18) // window 2: three times window 1, still steady growth within the factor
	assert.Zero(t, v.Stats().Shortened)
	assert.True(t, v.Valid(tok))

	clk.Advance(time.Minute)
	calls(55) // window 3: more than three times window 2: judged stolen
	assert.Equal(t, 1, v.Stats().Shortened)
	calls(10) // still valid for now; shortened once, not again
	assert.Equal(t, 1, v.Stats().Shortened)
	clk.Advance(time.Minute - time.Second)
	assert.True(t, v.Valid(tok))
	clk.Advance(time.Second)
	assert.False(t, v.Valid(tok), "the token now lives one window, not 3000 days")
	assertVVRejected(t, vvInfo(t, v, tok, ""))

	// A fresh token starts with its own counts.
	tok = str(t, vvFetch(t, v, ""), "access_token")
	assert.Equal(t, 200, vvInfo(t, v, tok, "").status)
	assert.True(t, v.Valid(tok))
}

// A burst after an idle window is not a jump (nothing to compare with); without the option the
// rule is off.
func TestVVTool_abuseRule_baseline(t *testing.T) {
	t.Parallel()
	clk := newClock()
	for _, opts := range [][]shoptokentest.Option{
		{shoptokentest.WithClock(clk), shoptokentest.WithAbuseRule(2, time.Minute)},
		{shoptokentest.WithClock(clk)},
	} {
		v := shoptokentest.NewVVTool(opts...)
		tok := str(t, vvFetch(t, v, ""), "access_token")
		for range 50 {
			require.Equal(t, 200, vvInfo(t, v, tok, "").status)
		}
		clk.Advance(2 * time.Minute)
		for range 50 {
			require.Equal(t, 200, vvInfo(t, v, tok, "").status)
		}
		assert.Zero(t, v.Stats().Shortened)
		v.Close()
	}
	v := shoptokentest.NewVVTool(shoptokentest.WithClock(clk))
	defer v.Close()
	tok := str(t, vvFetch(t, v, ""), "access_token")
	require.Equal(t, 200, vvInfo(t, v, tok, "").status)
	clk.Advance(time.Minute)
	for range 100 {
		require.Equal(t, 200, vvInfo(t, v, tok, "").status)
	}
	assert.Zero(t, v.Stats().Shortened, "the rule is off by default")
}

func TestVVTool_concurrentFetches(t *testing.T) {
	t.Parallel()
	v := shoptokentest.NewVVTool()
	defer v.Close()

	const n = 100
	tokens := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// No require in goroutines: FailNow must run on the test's goroutine.
			var body bytes.Buffer
			mw := multipart.NewWriter(&body)
			for k := range vvCreds {
				_ = mw.WriteField(k, vvCreds.Get(k))
			}
			_ = mw.Close()
			resp, err := v.Client().Post(v.URL+"/oauth/token", mw.FormDataContentType(), &body)
			if !assert.NoError(t, err) {
				return
			}
			defer resp.Body.Close()
			var m struct {
				AccessToken string `json:"access_token"`
			}
			if assert.Equal(t, 200, resp.StatusCode) && assert.NoError(t, json.NewDecoder(resp.Body).Decode(&m)) {
				tokens[i] = m.AccessToken
			}
		}()
	}
	wg.Wait()

	st := v.Stats()
	assert.Equal(t, n, st.TokenRequests)
	assert.Equal(t, n, st.Issued)
	seen := map[string]bool{}
	valid := 0
	for _, tok := range tokens {
		seen[tok] = true
		if v.Valid(tok) {
			valid++
		}
	}
	assert.Len(t, seen, n, "tokens are unique")
	assert.Equal(t, 1, valid, "only the last fetch's token survives")
}
