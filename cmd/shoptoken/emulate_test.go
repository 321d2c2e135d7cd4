package main

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestE2E_emulate: the four emulators on one port, each under its base path, reachable by any
// HTTP client (no Go SDK here), and the control endpoints: faults, latency, stats, errors.
func TestE2E_emulate(t *testing.T) {
	t.Parallel()
	r := newRunner(t)
	em := emulate(t, r, "youzan", "vipauth", "veapi", "vvtool")
	for _, n := range []string{"youzan", "vipauth", "veapi", "vvtool"} {
		assert.Equal(t, em.base+"/"+n, em.urls[n])
	}
	post := func(url, ctype string, body io.Reader) (int, string) {
		resp, err := http.Post(url, ctype, body)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	yzToken := func() (int, string) {
		return post(em.urls["youzan"]+"/auth/token", "application/json",
			strings.NewReader(`{"client_id":"id","client_secret":"`+emulatorSecret+`","authorize_type":"silent","grant_id":"88888"}`))
	}
	code, body := yzToken()
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, `"success":true`, "the secret given by SHOPTOKEN_EMULATE_SECRET")

	// vv-tool's documented multipart form, under its base path.
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	for k, v := range map[string]string{"grant_type": "client_credentials", "client_id": "account", "client_secret": emulatorSecret, "scope": ""} {
		require.NoError(t, mw.WriteField(k, v))
	}
	require.NoError(t, mw.Close())
	code, body = post(em.urls["vvtool"]+"/oauth/token", mw.FormDataContentType(), &form)
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, "access_token")

	em.control(t, "youzan/fail-next?n=1&fault=unavailable")
	code, _ = yzToken()
	assert.Equal(t, http.StatusServiceUnavailable, code, "the fault applies once")
	code, _ = yzToken()
	assert.Equal(t, http.StatusOK, code)
	em.control(t, "youzan/fail-next?n=1&fault=drop")
	_, err := http.Post(em.urls["youzan"]+"/auth/token", "application/json", strings.NewReader(`{}`))
	assert.Error(t, err, "a dropped connection, not a proxy's answer")
	assert.EqualValues(t, 2, em.stats(t, "youzan")["Faults"])

	em.control(t, "vipauth/latency?d=400ms")
	start := time.Now()
	code, _ = post(em.urls["vipauth"]+"/oauth2/token_info?access_token=x", "", nil)
	assert.Equal(t, http.StatusOK, code)
	assert.GreaterOrEqual(t, time.Since(start), 400*time.Millisecond)
	em.control(t, "vipauth/latency?d=0s")

	rt := em.control(t, "veapi/grant?subject=shop-1")["refresh_token"].(string)
	code, body = post(em.urls["veapi"]+"/vip/refreshtoken?vekey=vekey&refresh_token="+rt, "", nil)
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, `"error":"0"`, "veapi's own vekey: %s", body)

	for path, want := range map[string]int{
		"youzan/fail-next?fault=explode": http.StatusBadRequest,
		"youzan/latency?d=soon":          http.StatusBadRequest,
		"vvtool/revoke?grant=1":          http.StatusBadRequest,
		"veapi/rate-limit?n=2":           http.StatusBadRequest,
		"taobao/expire-now":              http.StatusNotFound,
		"youzan/explode":                 http.StatusNotFound,
		"youzan/revoke":                  http.StatusBadRequest,
	} {
		code, _ := post(em.base+"/_emulator/"+path, "", nil)
		assert.Equal(t, want, code, path)
	}
	resp, err := http.Get(em.base + "/_emulator/youzan/expire-now")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode, "changes are POSTs")
	assert.Equal(t, exitOK, em.p.stop(10*time.Second), "SIGTERM ends it cleanly")
}
