package shoptokentest_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken/shoptokentest"
)

var requestIDRe = regexp.MustCompile(`^[A-Za-z]{7}$`)

func veRefresh(t *testing.T, v *shoptokentest.Veapi, rt string) reply {
	t.Helper()
	return get(t, v.Client(), v.URL+"/vip/refreshtoken?vekey=vekey&refresh_token="+url.QueryEscape(rt))
}

// veOK refreshes and returns the data object.
func veOK(t *testing.T, v *shoptokentest.Veapi, rt string) map[string]any {
	t.Helper()
	r := veRefresh(t, v, rt)
	require.Equal(t, 200, r.status)
	m := r.obj(t)
	require.Equal(t, "0", m["error"], "body: %s", r.body)
	return sub(t, m, "data")
}

// veErr returns the error code of an error answer, checking its shape.
func veErr(t *testing.T, r reply) string {
	t.Helper()
	require.Equal(t, 200, r.status)
	assert.Equal(t, []string{"error", "msg", "request_id"}, keys(t, r.body))
	m := r.obj(t)
	assert.NotEmpty(t, str(t, m, "msg"))
	assert.Regexp(t, requestIDRe, str(t, m, "request_id"))
	return str(t, m, "error")
}

func veCall(t *testing.T, v *shoptokentest.Veapi, access string) reply {
	t.Helper()
	return get(t, v.Client(), v.URL+"/vip/api?vekey=vekey&sessionkey="+url.QueryEscape(access))
}

func TestVeapi_happyPath(t *testing.T) {
	t.Parallel()
	clk := newClock()
	v := shoptokentest.NewVeapi(shoptokentest.WithClock(clk))
	defer v.Close()

	granted := clk.Now()
	rt0 := v.NewGrant("vip-user-1")
	clk.Advance(5 * 24 * time.Hour)

	r := veRefresh(t, v, rt0)
	require.Equal(t, 200, r.status)
	assert.Equal(t, []string{"error", "msg", "data", "request_id"}, keys(t, r.body))
	assert.Equal(t, []string{"access_token", "refresh_expires_time", "refresh_token", "is_expired",
		"create_at", "expires_in", "expires_time", "status"}, keys(t, mustRaw(t, r.body, "data")))
	m := r.obj(t)
	assert.Equal(t, "0", str(t, m, "error"), "error is a string")
	assert.Equal(t, "接口调用成功!", str(t, m, "msg"))
	assert.Regexp(t, requestIDRe, str(t, m, "request_id"))
	d := sub(t, m, "data")
	hex40 := regexp.MustCompile(`^[0-9A-F]{40}$`)
	at, rt1 := str(t, d, "access_token"), str(t, d, "refresh_token")
	assert.Regexp(t, hex40, at)
	assert.Regexp(t, hex40, rt1)
	assert.NotEqual(t, rt0, rt1)
	assert.Equal(t, false, d["is_expired"])
	assert.Equal(t, "NORMAL", str(t, d, "status"))
	assert.Equal(t, clk.Now().UnixMilli(), num(t, d, "create_at"))
	assert.Equal(t, int64(7775999), num(t, d, "expires_in"), "as in the seed: 90 days minus a second")
	assert.Equal(t, clk.Now().Add(90*24*time.Hour).UnixMilli(), num(t, d, "expires_time"))
	assert.Equal(t, granted.Add(180*24*time.Hour).UnixMilli(), num(t, d, "refresh_expires_time"), "fixed at the grant")

	api := veCall(t, v, at)
	require.Equal(t, 200, api.status)
	am := api.obj(t)
	assert.Equal(t, "0", str(t, am, "error"))
	assert.Equal(t, "ok", str(t, am, "msg"))
	assert.Equal(t, "vip-user-1", str(t, sub(t, am, "data"), "subject"))
	assert.True(t, v.Valid(at))

	assert.Equal(t, shoptokentest.Stats{TokenRequests: 1, Issued: 1, APICalls: 1}, v.Stats())
}

func TestVeapi_postForm(t *testing.T) {
	t.Parallel()
	v := shoptokentest.NewVeapi(shoptokentest.WithCredentials("V123M56", ""))
	defer v.Close()
	rt := v.NewGrant("u")

	r := postForm(t, v.Client(), v.URL+"/vip/refreshtoken", url.Values{"vekey": {"V123M56"}, "refresh_token": {rt}})
	assert.Equal(t, "0", str(t, r.obj(t), "error"), "body: %s", r.body)

	r = postMultipart(t, v.Client(), v.URL+"/vip/refreshtoken", url.Values{"vekey": {"vekey"}, "refresh_token": {rt}})
	assert.Equal(t, shoptokentest.VeapiErrVEKey, veErr(t, r), "the default vekey is replaced")
}

func TestVeapi_rotation(t *testing.T) {
	t.Parallel()
	v := shoptokentest.NewVeapi()
	defer v.Close()

	rt0 := v.NewGrant("u")
	d1 := veOK(t, v, rt0)
	a1, rt1 := str(t, d1, "access_token"), str(t, d1, "refresh_token")

	assert.Equal(t, shoptokentest.VeapiErrRefreshDead, veErr(t, veRefresh(t, v, rt0)))
	assert.Equal(t, 1, v.Stats().DeadRefreshUsed)
	assert.True(t, v.Valid(a1), "a failed refresh kills nothing")

	d2 := veOK(t, v, rt1)
	a2 := str(t, d2, "access_token")
	assert.False(t, v.Valid(a1), "the previous access token dies with the rotation")
	assert.Equal(t, shoptokentest.VeapiErrSessionInvalid, veErr(t, veCall(t, v, a1)))
	assert.Equal(t, 200, veCall(t, v, a2).status)
	assert.Equal(t, "0", str(t, veCall(t, v, a2).obj(t), "error"))

	st := v.Stats()
	assert.Equal(t, 3, st.TokenRequests)
	assert.Equal(t, 2, st.Issued)
	assert.Equal(t, 1, st.Errors)
	assert.Equal(t, 1, st.DeadRefreshUsed)
	assert.Equal(t, 1, st.Rejected)
}

func TestVeapi_errors(t *testing.T) {
	t.Parallel()
	v := shoptokentest.NewVeapi()
	defer v.Close()
	rt := v.NewGrant("u")

	r := get(t, v.Client(), v.URL+"/vip/refreshtoken?vekey=wrong&refresh_token="+rt)
	assert.Equal(t, shoptokentest.VeapiErrVEKey, veErr(t, r))
	assert.Contains(t, string(r.body), `"msg":"vekey错误"`)
	assert.Equal(t, shoptokentest.VeapiErrMissing, veErr(t, get(t, v.Client(), v.URL+"/vip/refreshtoken?vekey=vekey")))
	assert.Equal(t, shoptokentest.VeapiErrRefreshUnknown, veErr(t, veRefresh(t, v, "70D016791459CADBF0DC3ADB37B0FDF9236E16B4")))

	v.ExpireRefreshNow()
	assert.Equal(t, shoptokentest.VeapiErrRefreshExpired, veErr(t, veRefresh(t, v, rt)))

	st := v.Stats()
	assert.Equal(t, 4, st.Errors)
	assert.Equal(t, 0, st.Issued)
	assert.Equal(t, 0, st.DeadRefreshUsed)
}

func TestVeapi_expiry(t *testing.T) {
	t.Parallel()
	clk := newClock()
	v := shoptokentest.NewVeapi(shoptokentest.WithClock(clk), shoptokentest.WithTokenTTL(time.Minute))
	defer v.Close()

	d := veOK(t, v, v.NewGrant("u"))
	assert.Equal(t, int64(59), num(t, d, "expires_in"))
	at := str(t, d, "access_token")
	clk.Advance(time.Minute)
	assert.Equal(t, shoptokentest.VeapiErrSessionExpired, veErr(t, veCall(t, v, at)))

	d = veOK(t, v, str(t, d, "refresh_token"))
	assert.Equal(t, true, d["is_expired"], "the previous token had expired")
	at = str(t, d, "access_token")
	v.ExpireNow()
	assert.False(t, v.Valid(at))
	assert.Equal(t, shoptokentest.VeapiErrSessionExpired, veErr(t, veCall(t, v, at)))
	assert.Equal(t, 2, v.Stats().Rejected)
}

func TestVeapi_RotateElsewhere(t *testing.T) {
	t.Parallel()
	v := shoptokentest.NewVeapi()
	defer v.Close()

	d := veOK(t, v, v.NewGrant("shop"))
	heldAT, heldRT := str(t, d, "access_token"), str(t, d, "refresh_token")

	at, rt := v.RotateElsewhere("shop")
	require.NotEmpty(t, at)
	assert.NotEqual(t, heldRT, rt)
	assert.False(t, v.Valid(heldAT))
	assert.True(t, v.Valid(at))
	assert.Equal(t, shoptokentest.VeapiErrRefreshDead, veErr(t, veRefresh(t, v, heldRT)))
	assert.Equal(t, 1, v.Stats().DeadRefreshUsed)

	d = veOK(t, v, rt) // the pair from elsewhere works here
	assert.False(t, v.Valid(at))
	assert.True(t, v.Valid(str(t, d, "access_token")))

	a, r := v.RotateElsewhere("nobody")
	assert.Empty(t, a)
	assert.Empty(t, r)
	assert.Equal(t, 2, v.Stats().Issued, "RotateElsewhere is not counted")
}

func TestVeapi_RevokeAndRegrant(t *testing.T) {
	t.Parallel()
	v := shoptokentest.NewVeapi()
	defer v.Close()

	d := veOK(t, v, v.NewGrant("u"))
	v.Revoke("u")
	assert.False(t, v.Valid(str(t, d, "access_token")))
	assert.Equal(t, shoptokentest.VeapiErrRefreshDead, veErr(t, veRefresh(t, v, str(t, d, "refresh_token"))))
	assert.Equal(t, 1, v.Stats().DeadRefreshUsed)
	a, _ := v.RotateElsewhere("u")
	assert.Empty(t, a)

	old := v.NewGrant("x")
	fresh := v.NewGrant("x") // authorized afresh: the old chain ends
	assert.Equal(t, shoptokentest.VeapiErrRefreshDead, veErr(t, veRefresh(t, v, old)))
	veOK(t, v, fresh)
}

func TestVeapi_FaultDrop_issuesAndKills(t *testing.T) {
	t.Parallel()
	v := shoptokentest.NewVeapi()
	defer v.Close()
	rt0 := v.NewGrant("u")

	v.FailNext(shoptokentest.FaultDrop, 1)
	// POST: Go's transport never resends it by itself.
	req := newReq(t, http.MethodPost, v.URL+"/vip/refreshtoken", strings.NewReader("vekey=vekey&refresh_token="+rt0), "application/x-www-form-urlencoded")
	_, err := v.Client().Do(req)
	require.Error(t, err)

	st := v.Stats()
	assert.Equal(t, 1, st.Issued, "the lost answer carried a new pair")
	assert.Equal(t, shoptokentest.VeapiErrRefreshDead, veErr(t, veRefresh(t, v, rt0)), "the rotation happened")
	st = v.Stats()
	assert.Equal(t, 1, st.DeadRefreshUsed)
	assert.Equal(t, 2, st.TokenRequests)
	assert.Equal(t, 1, st.Faults)
}

// Strict (the default), an API call without the account's vekey is refused, as every veapi
// interface takes it; lenient accepts a call without one (never one with a wrong one).
func TestVeapi_strictVEKey(t *testing.T) {
	t.Parallel()
	for _, lenient := range []bool{false, true} {
		var opts []shoptokentest.Option
		if lenient {
			opts = append(opts, shoptokentest.Lenient())
		}
		v := shoptokentest.NewVeapi(opts...)
		at := str(t, veOK(t, v, v.NewGrant("u")), "access_token")
		v.ResetStats()

		none := get(t, v.Client(), v.URL+"/vip/api?sessionkey="+at)
		wrong := get(t, v.Client(), v.URL+"/vip/api?vekey=nope&sessionkey="+at)
		inForm := postForm(t, v.Client(), v.URL+"/vip/api", url.Values{"vekey": {"vekey"}, "sessionkey": {at}})
		assert.Equal(t, shoptokentest.VeapiErrVEKey, veErr(t, wrong), "lenient=%v", lenient)
		assert.Equal(t, "0", str(t, inForm.obj(t), "error"), "lenient=%v: a form body carries vekey too", lenient)
		if lenient {
			assert.Equal(t, "0", str(t, none.obj(t), "error"))
		} else {
			assert.Equal(t, shoptokentest.VeapiErrVEKey, veErr(t, none))
		}
		st := v.Stats()
		assert.Equal(t, 3, st.APICalls)
		assert.Zero(t, st.Rejected, "a vekey refusal is not a token rejection")
		assert.True(t, v.Valid(at))
		v.Close()
	}
}

// WithSameRefreshToken: every refresh answers with the refresh token it was sent, as the
// platform's own example does; it stays valid, while each access token still replaces the last.
func TestVeapi_WithSameRefreshToken(t *testing.T) {
	t.Parallel()
	v := shoptokentest.NewVeapi(shoptokentest.WithSameRefreshToken())
	defer v.Close()

	rt := v.NewGrant("u")
	d1 := veOK(t, v, rt)
	assert.Equal(t, rt, str(t, d1, "refresh_token"))
	d2 := veOK(t, v, rt)
	assert.Equal(t, rt, str(t, d2, "refresh_token"), "the same refresh token works again")
	a1, a2 := str(t, d1, "access_token"), str(t, d2, "access_token")
	assert.NotEqual(t, a1, a2)
	assert.False(t, v.Valid(a1), "the previous access token dies")
	assert.True(t, v.Valid(a2))

	at, elsewhere := v.RotateElsewhere("u")
	assert.Equal(t, rt, elsewhere)
	assert.False(t, v.Valid(a2))
	assert.True(t, v.Valid(at))

	v.Revoke("u")
	assert.Equal(t, shoptokentest.VeapiErrRefreshDead, veErr(t, veRefresh(t, v, rt)), "revocation still ends it")
	st := v.Stats()
	assert.Equal(t, 2, st.Issued)
	assert.Equal(t, 1, st.DeadRefreshUsed)
}
