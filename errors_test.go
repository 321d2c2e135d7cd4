package shoptoken

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestError_Error(t *testing.T) {
	tests := []struct {
		name string
		err  *Error
		want string
	}{
		{"platform code", &Error{Platform: "youzan", Op: "token", Code: "1000", Message: "应用信息错误", RequestID: "5f2c", Kind: ErrCredentials},
			"youzan: token: 1000 应用信息错误 (request_id 5f2c)"},
		{"cause only", &Error{Platform: "veapi", Op: "refresh", Kind: ErrUnavailable, Err: errors.New("dial tcp: connection refused")},
			"veapi: refresh: dial tcp: connection refused"},
		{"status only", &Error{Platform: "vvtool", Op: "token", StatusCode: 502, Kind: ErrUnavailable}, "vvtool: token: HTTP 502"},
		{"kind only", &Error{Op: "token", Kind: ErrReauthorize}, "token: authorization must be granted again"},
		{"code only", &Error{Platform: "vvtool", Op: "call", Code: "40001", RequestID: "r1", Kind: ErrTokenInvalid},
			"vvtool: call: 40001 (request_id r1)"},
		{"message only", &Error{Platform: "veapi", Op: "refresh", Message: "refresh_token expired", Kind: ErrReauthorize},
			"veapi: refresh: refresh_token expired"},
		{"message and cause", &Error{Platform: "vipauth", Op: "exchange", Message: "bad json", Err: errors.New("unexpected EOF"), Kind: ErrBadResponse},
			"vipauth: exchange: bad json: unexpected EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.err.Error())
		})
	}
}

func TestError_IsAsUnwrap(t *testing.T) {
	cause := context.DeadlineExceeded
	var err error = &Error{Platform: "youzan", Op: "call", Code: "4203", Kind: ErrTokenInvalid, Err: cause}
	err = fmt.Errorf("sync orders: %w", err)
	assert.ErrorIs(t, err, ErrTokenInvalid)
	assert.NotErrorIs(t, err, ErrReauthorize)
	assert.ErrorIs(t, err, context.DeadlineExceeded, "Unwrap reaches the cause")
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, "4203", e.Code)
	assert.False(t, IsPermanent(err))
	assert.True(t, IsPermanent(&Error{Kind: ErrReauthorize}))
	assert.True(t, IsPermanent(fmt.Errorf("x: %w", &Error{Kind: ErrCredentials})))
}

func TestKindOf(t *testing.T) {
	assert.Nil(t, KindOf(nil))
	assert.Equal(t, ErrPermission, KindOf(&Error{Kind: ErrPermission}))
	assert.Equal(t, ErrUnavailable, KindOf(context.DeadlineExceeded))
	assert.Equal(t, ErrUnavailable, KindOf(&net.OpError{Op: "dial", Err: errors.New("refused")}))
	assert.Equal(t, ErrBadResponse, KindOf(errors.New("something")))
	assert.Equal(t, ErrConflict, KindOf(fmt.Errorf("w: %w", ErrConflict)))
}

func TestKindForStatus(t *testing.T) {
	for status, want := range map[int]error{401: ErrTokenInvalid, 403: ErrPermission, 429: ErrRateLimited, 408: ErrUnavailable,
		500: ErrUnavailable, 503: ErrUnavailable, 400: ErrBadRequest, 404: ErrBadRequest, 200: ErrBadResponse, 302: ErrBadResponse} {
		assert.Equal(t, want, KindForStatus(status), "status %d", status)
	}
}
