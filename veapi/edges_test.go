package veapi

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/defaultclient"
)

// TestNewClient_nilBaseHasTimeouts: a nil base is the SDK's default client, never one without a
// timeout.
func TestNewClient_nilBaseHasTimeouts(t *testing.T) {
	src, err := NewSource(Config{VEKey: testVEKey})
	require.NoError(t, err)
	defer src.Close()
	hc := NewClient(src, nil)
	assert.Equal(t, defaultclient.Timeout, hc.Timeout)
	base, ok := hc.Transport.(*shoptoken.Transport).Base.(*http.Transport)
	require.True(t, ok)
	assert.Equal(t, defaultclient.HeaderTimeout, base.ResponseHeaderTimeout)
}
