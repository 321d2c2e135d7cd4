package youzan_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/youzan"
)

func TestAPIPolicy(t *testing.T) {
	t.Parallel()
	_, err := youzan.APIPolicy(youzan.Config{ClientID: "id"})
	require.ErrorIs(t, err, shoptoken.ErrBadRequest)
	assert.Contains(t, err.Error(), "Config.ClientSecret")

	p, err := youzan.APIPolicy(youzan.Config{ClientID: "id", ClientSecret: "secret"})
	require.NoError(t, err)
	assert.Empty(t, p.Secrets)
	req, _ := http.NewRequest(http.MethodPost, "https://open.youzanyun.com/api/youzan.trade.get/4.0.2?x=1", nil)
	p.Attach(req, &shoptoken.Token{AccessToken: "tok"})
	assert.Equal(t, "tok", req.URL.Query().Get("access_token"))
	assert.Equal(t, "1", req.URL.Query().Get("x"))

	answer := func(body string) *http.Response {
		return &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(strings.NewReader(body)), Header: http.Header{}}
	}
	for code, want := range map[string]bool{"4201": true, "4202": true, "4203": true, "4101": false, "4001": false} {
		assert.Equal(t, want, p.Rejected(answer(`{"gw_err_resp":{"trace_id":"t","err_code":`+code+`,"err_msg":"m"}}`)), code)
	}
	assert.True(t, p.Rejected(answer(`{"error_response":{"code":4202,"msg":"expired"}}`)), "the legacy envelope")
	assert.False(t, p.Rejected(answer(`{"success":true,"code":200,"data":{}}`)))
}
