package vvtool_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/vvtool"
)

func TestAPIPolicy(t *testing.T) {
	t.Parallel()
	_, err := vvtool.APIPolicy(vvtool.Config{Account: "account"})
	require.ErrorIs(t, err, shoptoken.ErrCredentials)
	assert.Contains(t, err.Error(), "Config.AccessKey")

	p, err := vvtool.APIPolicy(vvtool.Config{Account: "account", AccessKey: "key"})
	require.NoError(t, err)
	assert.Empty(t, p.Secrets, "the AccessKey is never sent with an API call")
	req, _ := http.NewRequest(http.MethodGet, "http://vv.test/tool/members/info", nil)
	p.Attach(req, &shoptoken.Token{AccessToken: "tok"})
	assert.Equal(t, "Bearer tok", req.Header.Get("Authorization"))

	answer := func(status int, body string) *http.Response {
		return &http.Response{StatusCode: status, Body: io.NopCloser(strings.NewReader(body)), Header: http.Header{}}
	}
	assert.True(t, p.Rejected(answer(http.StatusUnauthorized, "")))
	assert.True(t, p.Rejected(answer(http.StatusOK, `{"code":401,"msg":"身份凭证无效"}`)))
	assert.False(t, p.Rejected(answer(http.StatusOK, `{"code":0,"msg":"成功","data":{}}`)))
}
