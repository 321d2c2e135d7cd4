package defaultclient

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNew(t *testing.T) {
	hc := New()
	assert.Equal(t, 30*time.Second, hc.Timeout)
	tr, ok := hc.Transport.(*http.Transport)
	require.True(t, ok)
	assert.Equal(t, 5*time.Second, tr.TLSHandshakeTimeout)
	assert.Equal(t, 15*time.Second, tr.ResponseHeaderTimeout)
	assert.NotNil(t, tr.DialContext)
	assert.Positive(t, tr.MaxIdleConnsPerHost)
	assert.Positive(t, tr.IdleConnTimeout)
	assert.NotSame(t, hc, New(), "each call returns a new client")
}

func TestShared(t *testing.T) {
	assert.Same(t, Shared(), Shared())
	assert.Equal(t, Timeout, Shared().Timeout)
}
