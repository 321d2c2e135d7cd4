package veapi_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/veapi"
)

func TestAPIPolicy(t *testing.T) {
	t.Parallel()
	_, err := veapi.APIPolicy(veapi.Config{})
	require.ErrorIs(t, err, shoptoken.ErrCredentials)
	assert.Contains(t, err.Error(), "Config.VEKey")

	const vekey = "VEKEYs3cretVEKEYs3cretVEKEYs3cretVEKEY40"
	p, err := veapi.APIPolicy(veapi.Config{VEKey: vekey})
	require.NoError(t, err)
	assert.Equal(t, []string{vekey}, p.Secrets)
	req, _ := http.NewRequest(http.MethodGet, "http://veapi.test/vip/api?method=m", nil)
	p.Attach(req, &shoptoken.Token{AccessToken: "tok"})
	q := req.URL.Query()
	assert.Equal(t, "tok", q.Get("sessionkey"))
	assert.Equal(t, vekey, q.Get("vekey"))
	assert.Equal(t, "m", q.Get("method"))

	answer := func(status int, body string) *http.Response {
		return &http.Response{StatusCode: status, Body: io.NopCloser(strings.NewReader(body)), Header: http.Header{}}
	}
	assert.True(t, p.Rejected(answer(http.StatusUnauthorized, "")))
	assert.True(t, p.Rejected(answer(http.StatusOK, `{"error":"10020","msg":"sessionkey无效"}`)))
	assert.False(t, p.Rejected(answer(http.StatusOK, `{"error":"0","msg":"ok","data":{}}`)))
	assert.False(t, p.Rejected(answer(http.StatusOK, `{"error":"10001","msg":"vekey错误"}`)), "not the token's fault")
}
