package shoptokentest_test

import (
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken/shoptokentest"
)

var hex32 = regexp.MustCompile(`^[0-9a-f]{32}$`)

func silent(grant string, refresh string) string {
	return `{"client_id":"id","client_secret":"secret","authorize_type":"silent","grant_id":"` + grant + `","refresh":` + refresh + `}`
}

// newYouzan starts a Youzan emulator that knows the grants the tests use: "1" to "9" and
// YouzanGrantID.
func newYouzan(opts ...shoptokentest.Option) *shoptokentest.Youzan {
	grants := []string{shoptokentest.YouzanGrantID}
	for i := 1; i <= 9; i++ {
		grants = append(grants, strconv.Itoa(i))
	}
	return shoptokentest.NewYouzan(append([]shoptokentest.Option{shoptokentest.WithGrants(grants...)}, opts...)...)
}

// yzToken fetches silently and returns the data object.
func yzToken(t *testing.T, y *shoptokentest.Youzan, body string) map[string]any {
	t.Helper()
	r := postJSON(t, y.Client(), y.URL+"/auth/token", body)
	require.Equal(t, 200, r.status)
	m := r.obj(t)
	require.Equal(t, true, m["success"], "body: %s", r.body)
	return sub(t, m, "data")
}

func yzCall(t *testing.T, y *shoptokentest.Youzan, token string) map[string]any {
	t.Helper()
	r := postJSON(t, y.Client(), y.URL+"/api/youzan.trade.get/4.0.2?access_token="+url.QueryEscape(token), `{"tid":"E123"}`)
	require.Equal(t, 200, r.status)
	return r.obj(t)
}

func gwCode(t *testing.T, m map[string]any) int64 {
	t.Helper()
	gw := sub(t, m, "gw_err_resp")
	assert.NotEmpty(t, str(t, gw, "trace_id"))
	assert.NotEmpty(t, str(t, gw, "err_msg"))
	return num(t, gw, "err_code")
}

func yzError(t *testing.T, r reply) (int64, string) {
	t.Helper()
	require.Equal(t, 200, r.status)
	m := r.obj(t)
	assert.Equal(t, false, m["success"])
	assert.Equal(t, []string{"success", "code", "message"}, keys(t, r.body))
	return num(t, m, "code"), str(t, m, "message")
}

func TestYouzan_Silent_happyPath(t *testing.T) {
	t.Parallel()
	clk := newClock()
	y := newYouzan(shoptokentest.WithClock(clk))
	defer y.Close()

	r := postJSON(t, y.Client(), y.URL+"/auth/token", silent("88888", "false"))
	require.Equal(t, 200, r.status)
	assert.Equal(t, []string{"success", "code", "data", "message"}, keys(t, r.body))
	m := r.obj(t)
	assert.Equal(t, true, m["success"])
	assert.Equal(t, int64(200), num(t, m, "code"))
	assert.Nil(t, m["message"])
	assert.Contains(t, string(r.body), `"message":null`)
	data := sub(t, m, "data")
	assert.Equal(t, []string{"expires", "scope", "access_token", "authority_id", "refresh_token"}, keys(t, mustRaw(t, r.body, "data")))
	assert.Equal(t, clk.Now().Add(7*24*time.Hour).UnixMilli(), num(t, data, "expires"))
	assert.Equal(t, shoptokentest.YouzanScope, str(t, data, "scope"))
	assert.Equal(t, "88888", str(t, data, "authority_id"))
	at := str(t, data, "access_token")
	assert.Regexp(t, hex32, at)
	assert.Regexp(t, hex32, str(t, data, "refresh_token"))
	assert.True(t, y.Valid(at))

	call := yzCall(t, y, at)
	assert.Equal(t, true, call["success"])
	assert.Equal(t, int64(200), num(t, call, "code"))
	assert.Equal(t, "successful", str(t, call, "message"))
	assert.NotEmpty(t, str(t, call, "trace_id"))
	d := sub(t, call, "data")
	assert.Equal(t, "youzan.trade.get", str(t, d, "name"))
	assert.Equal(t, map[string]any{"tid": "E123"}, d["echo"])

	assert.Equal(t, shoptokentest.Stats{TokenRequests: 1, Issued: 1, APICalls: 1}, y.Stats())
}

func TestYouzan_Silent_refreshFalseReuses(t *testing.T) {
	t.Parallel()
	y := newYouzan()
	defer y.Close()

	a := yzToken(t, y, silent("1", "false"))
	b := yzToken(t, y, silent("1", "false"))
	assert.Equal(t, a["access_token"], b["access_token"])
	assert.Equal(t, a["refresh_token"], b["refresh_token"])
	c := yzToken(t, y, silent("1", `"false"`)) // the seed's curl sends a string
	assert.Equal(t, a["access_token"], c["access_token"])

	st := y.Stats()
	assert.Equal(t, 1, st.Issued)
	assert.Equal(t, 2, st.Reused)
	assert.Equal(t, 3, st.TokenRequests)

	// Another grant has its own token.
	d := yzToken(t, y, `{"client_id":"id","client_secret":"secret","authorize_type":"silent","grant_id":"2"}`)
	assert.NotEqual(t, a["access_token"], d["access_token"])
	assert.Equal(t, "2", d["authority_id"])
}

func TestYouzan_Silent_refreshTrueSupersedes(t *testing.T) {
	t.Parallel()
	for _, refresh := range []string{"true", `"true"`} {
		t.Run(refresh, func(t *testing.T) {
			t.Parallel()
			y := newYouzan()
			defer y.Close()

			old := str(t, yzToken(t, y, silent("88888", "false")), "access_token")
			fresh := yzToken(t, y, silent("88888", refresh))
			nw := str(t, fresh, "access_token")
			require.NotEqual(t, old, nw)

			assert.Equal(t, int64(4203), gwCode(t, yzCall(t, y, old)))
			assert.Equal(t, true, yzCall(t, y, nw)["success"])
			assert.False(t, y.Valid(old))
			assert.True(t, y.Valid(nw))

			st := y.Stats()
			assert.Equal(t, 2, st.Issued)
			assert.Equal(t, 0, st.Reused)
			assert.Equal(t, 1, st.Rejected)
			assert.Equal(t, 2, st.APICalls)
		})
	}
}

func TestYouzan_Silent_expiredTokenIsReissued(t *testing.T) {
	t.Parallel()
	clk := newClock()
	y := newYouzan(shoptokentest.WithClock(clk), shoptokentest.WithTokenTTL(time.Hour))
	defer y.Close()

	d := yzToken(t, y, silent("5", "false"))
	old := str(t, d, "access_token")
	assert.Equal(t, clk.Now().Add(time.Hour).UnixMilli(), num(t, d, "expires"))

	clk.Advance(time.Hour)
	assert.Equal(t, int64(4202), gwCode(t, yzCall(t, y, old)))
	nw := str(t, yzToken(t, y, silent("5", "false")), "access_token")
	assert.NotEqual(t, old, nw)

	st := y.Stats()
	assert.Equal(t, 2, st.Issued)
	assert.Equal(t, 0, st.Reused)
	assert.Equal(t, 1, st.Rejected)

	y.ExpireNow()
	assert.False(t, y.Valid(nw))
	assert.Equal(t, int64(4202), gwCode(t, yzCall(t, y, nw)))
}

func TestYouzan_Token_errors(t *testing.T) {
	t.Parallel()
	y := newYouzan()
	defer y.Close()
	c := y.Client()
	tokenURL := y.URL + "/auth/token"

	form := url.Values{"client_id": {"id"}, "client_secret": {"secret"}, "authorize_type": {"silent"}, "grant_id": {"1"}}
	code, _ := yzError(t, postForm(t, c, tokenURL, form))
	assert.Equal(t, int64(1000), code, "form encoding")

	code, _ = yzError(t, postJSON(t, c, tokenURL, `{"client_id":`))
	assert.Equal(t, int64(1000), code, "broken JSON")

	code, _ = yzError(t, postJSON(t, c, tokenURL, `{"client_id":"id","client_secret":"nope","authorize_type":"silent","grant_id":"1"}`))
	assert.Equal(t, int64(1000), code, "wrong secret")

	code, noClient := yzError(t, postJSON(t, c, tokenURL, `{"client_id":"who","client_secret":"secret","authorize_type":"silent","grant_id":"1"}`))
	assert.Equal(t, int64(1103), code)
	assert.Contains(t, noClient, "client does not exist")

	at := str(t, yzToken(t, y, silent("1", "false")), "access_token")
	y.Revoke("1")
	code, noGrant := yzError(t, postJSON(t, c, tokenURL, silent("1", "false")))
	assert.Equal(t, int64(1103), code)
	assert.Contains(t, noGrant, "grant does not exist")
	assert.NotEqual(t, noClient, noGrant)
	assert.Equal(t, int64(4201), gwCode(t, yzCall(t, y, at)), "revoked grant's token")

	y.ExpireGrant("2")
	code, msg := yzError(t, postJSON(t, c, tokenURL, silent("2", "false")))
	assert.Equal(t, int64(1004), code)
	assert.Contains(t, msg, "authorization expired")

	code, _ = yzError(t, postJSON(t, c, tokenURL, silent("3", `"maybe"`)))
	assert.Equal(t, int64(1000), code, "bad refresh value")

	st := y.Stats()
	assert.Equal(t, 8, st.TokenRequests)
	assert.Equal(t, 7, st.Errors)
	assert.Equal(t, 1, st.Issued)
	assert.Equal(t, 1, st.Rejected)

	// NewCode authorizes the revoked grant again.
	code2 := y.NewCode("1")
	d := yzToken(t, y, `{"client_id":"id","client_secret":"secret","authorize_type":"authorization_code","code":"`+code2+`","redirect_uri":"https://example.com/cb"}`)
	assert.Equal(t, "1", str(t, d, "authority_id"))
}

func TestYouzan_AuthorizationCode_singleUse(t *testing.T) {
	t.Parallel()
	y := newYouzan()
	defer y.Close()

	code := y.NewCode("42587152")
	body := `{"client_id":"id","client_secret":"secret","authorize_type":"authorization_code","code":"` + code + `","redirect_uri":"https://isv.example.com/cb"}`
	d := yzToken(t, y, body)
	assert.Equal(t, "42587152", str(t, d, "authority_id"))

	n, msg := yzError(t, postJSON(t, y.Client(), y.URL+"/auth/token", body))
	assert.Equal(t, int64(1005), n)
	assert.NotEmpty(t, msg)
	n, _ = yzError(t, postJSON(t, y.Client(), y.URL+"/auth/token", `{"client_id":"id","client_secret":"secret","authorize_type":"authorization_code","code":"nope"}`))
	assert.Equal(t, int64(1005), n)

	st := y.Stats()
	assert.Equal(t, 1, st.Issued)
	assert.Equal(t, 2, st.Errors)
}

func TestYouzan_RefreshToken_rotation(t *testing.T) {
	t.Parallel()
	clk := newClock()
	y := newYouzan(shoptokentest.WithClock(clk), shoptokentest.WithRefreshTTL(48*time.Hour))
	defer y.Close()
	refresh := func(rt string) reply {
		return postJSON(t, y.Client(), y.URL+"/auth/token",
			`{"client_id":"id","client_secret":"secret","authorize_type":"refresh_token","refresh_token":"`+rt+`"}`)
	}

	d0 := yzToken(t, y, silent("7", "false"))
	rt0, at0 := str(t, d0, "refresh_token"), str(t, d0, "access_token")

	r := refresh(rt0)
	require.Equal(t, true, r.obj(t)["success"], "body: %s", r.body)
	d1 := sub(t, r.obj(t), "data")
	rt1, at1 := str(t, d1, "refresh_token"), str(t, d1, "access_token")
	assert.NotEqual(t, rt0, rt1)
	assert.False(t, y.Valid(at0))
	assert.True(t, y.Valid(at1))

	n, msg := yzError(t, refresh(rt0))
	assert.Equal(t, int64(1004), n)
	assert.Contains(t, msg, "refresh_token")
	assert.Equal(t, 1, y.Stats().DeadRefreshUsed)
	assert.True(t, y.Valid(at1), "a failed refresh kills nothing")

	n, _ = yzError(t, refresh("never-issued"))
	assert.Equal(t, int64(1004), n)
	assert.Equal(t, 1, y.Stats().DeadRefreshUsed, "unknown is not dead")

	clk.Advance(48 * time.Hour)
	n, msg = yzError(t, refresh(rt1))
	assert.Equal(t, int64(1004), n)
	assert.Contains(t, msg, "expired")

	st := y.Stats()
	assert.Equal(t, 2, st.Issued)
	assert.Equal(t, 3, st.Errors)
	assert.Equal(t, 1, st.DeadRefreshUsed)

	// A revoked grant's refresh token is dead too.
	d2 := yzToken(t, y, silent("8", "false"))
	y.Revoke("8")
	n, msg = yzError(t, refresh(str(t, d2, "refresh_token")))
	assert.Equal(t, int64(1103), n)
	assert.Contains(t, msg, "grant does not exist")
	assert.Equal(t, 2, y.Stats().DeadRefreshUsed)

	// ExpireRefreshNow.
	d3 := yzToken(t, y, silent("9", "false"))
	y.ExpireRefreshNow()
	n, _ = yzError(t, refresh(str(t, d3, "refresh_token")))
	assert.Equal(t, int64(1004), n)
}

func TestYouzan_API_tokenOnlyInQuery(t *testing.T) {
	t.Parallel()
	y := newYouzan()
	defer y.Close()
	c := y.Client()
	at := str(t, yzToken(t, y, silent("1", "false")), "access_token")
	api := y.URL + "/api/youzan.shop.get/3.0.0"

	assert.Equal(t, int64(4201), gwCode(t, postJSON(t, c, api, `{}`, "Authorization", "Bearer "+at).obj(t)), "header")
	assert.Equal(t, int64(4201), gwCode(t, postJSON(t, c, api, `{"access_token":"`+at+`"}`).obj(t)), "body")
	assert.Equal(t, int64(4201), gwCode(t, postJSON(t, c, api+"?access_token=", `{}`).obj(t)), "empty")
	assert.Equal(t, int64(4203), gwCode(t, postJSON(t, c, api+"?access_token=0123456789abcdef0123456789abcdef", `{}`).obj(t)), "unknown")

	r := postJSON(t, c, api+"?access_token="+at, ``)
	assert.Equal(t, map[string]any{}, sub(t, r.obj(t), "data")["echo"], "empty body echoes {}")
	form := postForm(t, c, api+"?access_token="+at, url.Values{"a": {"b"}})
	assert.Equal(t, int64(4007), gwCode(t, form.obj(t)), "not JSON")
	assert.Equal(t, int64(4007), gwCode(t, get(t, c, api+"?access_token="+at).obj(t)), "GET")
	assert.Equal(t, int64(4001), gwCode(t, postJSON(t, c, y.URL+"/api/youzan.shop.get?access_token="+at, `{}`).obj(t)), "no version")

	st := y.Stats()
	assert.Equal(t, 8, st.APICalls)
	assert.Equal(t, 4, st.Rejected)
	assert.True(t, y.Valid(at))
}

func TestYouzan_FailAPIWith(t *testing.T) {
	t.Parallel()
	y := newYouzan()
	defer y.Close()
	at := str(t, yzToken(t, y, silent("1", "false")), "access_token")

	y.FailAPIWith(4101, 2)
	y.FailAPIWith(4203, 1)
	y.FailAPIWith(5001, 1)
	assert.Equal(t, int64(4101), gwCode(t, yzCall(t, y, at)))
	assert.Equal(t, int64(4101), gwCode(t, yzCall(t, y, at)))
	assert.Equal(t, int64(4203), gwCode(t, yzCall(t, y, at)))
	assert.Equal(t, int64(5001), gwCode(t, yzCall(t, y, at)))
	assert.Equal(t, true, yzCall(t, y, at)["success"])

	y.FailAPIWith(4204, 3)
	y.FailAPIWith(0, 0) // clears
	assert.Equal(t, true, yzCall(t, y, at)["success"])

	st := y.Stats()
	assert.Equal(t, 6, st.APICalls)
	assert.Equal(t, 1, st.Rejected, "only the forced 4203 is about the token")
	assert.True(t, y.Valid(at), "a forced error does not kill the token")
}

func TestYouzan_FaultDrop_issuesAndKills(t *testing.T) {
	t.Parallel()
	y := newYouzan()
	defer y.Close()

	old := str(t, yzToken(t, y, silent("1", "false")), "access_token")
	y.FailNext(shoptokentest.FaultDrop, 1)
	_, err := y.Client().Do(newReq(t, "POST", y.URL+"/auth/token", strings.NewReader(silent("1", "true")), "application/json"))
	require.Error(t, err)

	assert.False(t, y.Valid(old), "the lost answer still superseded the old token")
	assert.Equal(t, int64(4203), gwCode(t, yzCall(t, y, old)))
	// refresh:false now hands out the token whose answer was lost.
	d := yzToken(t, y, silent("1", "false"))
	assert.True(t, y.Valid(str(t, d, "access_token")))

	st := y.Stats()
	assert.Equal(t, 3, st.TokenRequests)
	assert.Equal(t, 2, st.Issued)
	assert.Equal(t, 1, st.Reused)
	assert.Equal(t, 1, st.Faults)
}

// Strict (the default), only registered grants exist: a wrong kdt_id mapping fails at once with
// 1103 "grant does not exist", and grant_id must be a JSON string. Lenient, every shop has
// authorized.
func TestYouzan_strictGrants(t *testing.T) {
	t.Parallel()
	def := shoptokentest.NewYouzan()
	defer def.Close()
	d := yzToken(t, def, silent(shoptokentest.YouzanGrantID, "false"))
	assert.Equal(t, "88888", str(t, d, "authority_id"), "the seed's grant id is known by default")
	code, msg := yzError(t, postJSON(t, def.Client(), def.URL+"/auth/token", silent("42587152", "false")))
	assert.Equal(t, int64(1103), code)
	assert.Contains(t, msg, "grant does not exist")
	code, _ = yzError(t, postJSON(t, def.Client(), def.URL+"/auth/token",
		`{"client_id":"id","client_secret":"secret","authorize_type":"silent","grant_id":88888,"refresh":false}`))
	assert.Equal(t, int64(1000), code, "grant_id is documented as a string")

	y := shoptokentest.NewYouzan(shoptokentest.WithGrants("42587152"))
	defer y.Close()
	yzToken(t, y, silent("42587152", "true"))
	code, _ = yzError(t, postJSON(t, y.Client(), y.URL+"/auth/token", silent("88888", "false")))
	assert.Equal(t, int64(1103), code, "WithGrants replaces the default")

	// NewCode registers the grant it authorizes.
	c := y.NewCode("777")
	yzToken(t, y, `{"client_id":"id","client_secret":"secret","authorize_type":"authorization_code","code":"`+c+`","redirect_uri":"https://example.com/cb"}`)
	yzToken(t, y, silent("777", "false"))
	st := y.Stats()
	assert.Equal(t, 4, st.TokenRequests)
	assert.Equal(t, 1, st.Errors)

	lenient := shoptokentest.NewYouzan(shoptokentest.Lenient())
	defer lenient.Close()
	assert.Equal(t, "42587152", str(t, yzToken(t, lenient, silent("42587152", "false")), "authority_id"))
	assert.Equal(t, "5", str(t, yzToken(t, lenient,
		`{"client_id":"id","client_secret":"secret","authorize_type":"silent","grant_id":5,"refresh":false}`), "authority_id"))
}
