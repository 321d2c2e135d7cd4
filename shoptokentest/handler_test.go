package shoptokentest_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken/shoptokentest"
)

// TestHandler_underABasePath: the emulator's endpoints served by another server under a base
// path share its state: a token issued there counts in its Stats, a fault queued on it applies,
// and a dropped connection is a dropped connection.
func TestHandler_underABasePath(t *testing.T) {
	yz := shoptokentest.NewYouzan()
	defer yz.Close()
	mux := http.NewServeMux()
	mux.Handle("/youzan/", http.StripPrefix("/youzan", yz.Handler()))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	post := func() (*http.Response, error) {
		return srv.Client().Post(srv.URL+"/youzan/auth/token", "application/json",
			strings.NewReader(`{"client_id":"id","client_secret":"secret","authorize_type":"silent","grant_id":"88888"}`))
	}
	resp, err := post()
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, 1, yz.Stats().Issued)

	yz.FailNext(shoptokentest.FaultDrop, 1)
	_, err = post()
	require.Error(t, err, "the connection is dropped, not answered by a proxy")
	assert.Equal(t, 2, yz.Stats().TokenRequests)
	assert.Equal(t, 1, yz.Stats().Faults)
}

func TestSetLatency(t *testing.T) {
	va := shoptokentest.NewVipAuth()
	defer va.Close()
	get := func() time.Duration {
		start := time.Now()
		resp, err := va.Client().Get(va.URL + "/api/account/info?access_token=x")
		require.NoError(t, err)
		resp.Body.Close()
		return time.Since(start)
	}
	va.SetLatency(300 * time.Millisecond)
	assert.GreaterOrEqual(t, get(), 300*time.Millisecond)
	va.SetLatency(0)
	assert.Less(t, get(), 250*time.Millisecond)
}

func TestParseFault(t *testing.T) {
	for in, want := range map[string]shoptokentest.Fault{
		"FaultDrop": shoptokentest.FaultDrop, "drop": shoptokentest.FaultDrop, "HTML200": shoptokentest.FaultHTML200,
		"wrong-types": shoptokentest.FaultWrongTypes, "slow": shoptokentest.FaultSlow, "none": shoptokentest.FaultNone,
	} {
		got, err := shoptokentest.ParseFault(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	_, err := shoptokentest.ParseFault("explode")
	require.Error(t, err)
	for f := shoptokentest.FaultNone; f <= shoptokentest.FaultSlow; f++ {
		got, err := shoptokentest.ParseFault(f.String())
		require.NoError(t, err)
		assert.Equal(t, f, got, "String and ParseFault agree")
	}
}
