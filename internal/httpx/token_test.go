package httpx

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
)

func TestResponse_TokenStatus(t *testing.T) {
	tests := []struct {
		status int
		kind   error
		want   error
	}{
		{401, shoptoken.ErrTokenInvalid, shoptoken.ErrCredentials},
		{401, shoptoken.ErrReauthorize, shoptoken.ErrCredentials},
		{401, shoptoken.ErrBadResponse, shoptoken.ErrCredentials},
		{403, shoptoken.ErrPermission, shoptoken.ErrPermission},
		{200, shoptoken.ErrTokenInvalid, shoptoken.ErrTokenInvalid},
		{500, shoptoken.ErrUnavailable, shoptoken.ErrUnavailable},
	}
	for _, tt := range tests {
		r := &Response{StatusCode: tt.status}
		err := r.TokenStatus(&shoptoken.Error{Platform: "youzan", Op: "token", StatusCode: tt.status, Kind: tt.kind, Code: "c"})
		require.ErrorIs(t, err, tt.want, "%d %v", tt.status, tt.kind)
		var e *shoptoken.Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, "c", e.Code, "the platform's code is kept")
	}
	assert.NoError(t, (&Response{StatusCode: 401}).TokenStatus(nil))
	plain := errors.New("x")
	assert.Equal(t, plain, (&Response{StatusCode: 401}).TokenStatus(plain))
}
