package vipauth_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/vipauth"
)

func TestAPIPolicy(t *testing.T) {
	t.Parallel()
	_, err := vipauth.APIPolicy(vipauth.Config{})
	require.ErrorIs(t, err, shoptoken.ErrCredentials)
	assert.Contains(t, err.Error(), "Config.ClientID")

	p, err := vipauth.APIPolicy(vipauth.Config{ClientID: "id", ClientSecret: testSecret})
	require.NoError(t, err)
	assert.Empty(t, p.Secrets, "the client secret is never sent with an API call")
	req, _ := http.NewRequest(http.MethodPost, "https://vop.example/api?x=1", nil)
	p.Attach(req, &shoptoken.Token{AccessToken: "tok"})
	assert.Equal(t, "tok", req.URL.Query().Get("access_token"))

	answer := func(status int, body string) *http.Response {
		return &http.Response{StatusCode: status, Body: io.NopCloser(strings.NewReader(body)), Header: http.Header{}}
	}
	assert.True(t, p.Rejected(answer(http.StatusUnauthorized, "")))
	assert.True(t, p.Rejected(answer(http.StatusOK, `{"code":30111,"msg":"access token invalid"}`)))
	assert.False(t, p.Rejected(answer(http.StatusOK, `{"code":0,"data":{}}`)))
}
