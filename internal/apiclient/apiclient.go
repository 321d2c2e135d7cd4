// Package apiclient holds what the API clients of the platform packages share, so that they are
// built the same way: the base HTTP client (the caller's, or the SDK's default with its timeouts,
// never http.DefaultClient), the check that a token source was given, and the adapter that lets
// any shoptoken.TokenSource drive a shoptoken.Transport.
package apiclient

import (
	"context"
	"net/http"
	"reflect"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/defaultclient"
)

// Base returns a copy of hc, or of the SDK's shared default client (defaultclient.Shared) when hc
// is nil, for a platform package to set its Transport on. The caller's client is never modified.
func Base(hc *http.Client) http.Client {
	if hc != nil {
		return *hc
	}
	return *defaultclient.Shared()
}

// CheckSource returns a *shoptoken.Error of kind ErrBadRequest when src is nil, also a nil pointer
// inside the interface (a nil *shoptoken.Cache, say), which would otherwise panic on first use.
func CheckSource(platform string, src shoptoken.TokenSource) error {
	if src == nil {
		return errNilSource(platform)
	}
	if v := reflect.ValueOf(src); (v.Kind() == reflect.Pointer || v.Kind() == reflect.Func ||
		v.Kind() == reflect.Map || v.Kind() == reflect.Interface) && v.IsNil() {
		return errNilSource(platform)
	}
	return nil
}

func errNilSource(platform string) error {
	return &shoptoken.Error{Platform: platform, Op: "new_client", Kind: shoptoken.ErrBadRequest,
		Message: "the token source is nil"}
}

// Invalidator returns src itself when it can be told of a rejection (a *shoptoken.Cache, an
// App's source), else src with an Invalidate that changes nothing: a shoptoken.Transport then
// hands the caller the platform's own rejection instead of retrying with the same token.
func Invalidator(src shoptoken.TokenSource) shoptoken.Invalidator {
	if inv, ok := src.(shoptoken.Invalidator); ok {
		return inv
	}
	return fixed{src}
}

// fixed is a TokenSource that cannot be invalidated.
type fixed struct{ shoptoken.TokenSource }

// Invalidate returns rejected: there is no other token to give.
func (fixed) Invalidate(_ context.Context, rejected *shoptoken.Token) (*shoptoken.Token, error) {
	return rejected, nil
}
