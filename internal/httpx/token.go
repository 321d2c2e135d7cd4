package httpx

import (
	"errors"
	"net/http"

	"github.com/shoptoken/shoptoken"
)

// TokenStatus settles the kind of err, the error a provider made of r, an answer of a token
// endpoint: when r's status is 401 the kind is shoptoken.ErrCredentials, whatever the body said.
// At a token endpoint the only credentials a request presents are the app's (client id and
// secret, vekey, AccessKey, or a refresh token sent with them), so a 401 there is about them and
// never about an access token (which is what shoptoken.KindForStatus(401) would say). Any other
// err is returned as it is; a nil err stays nil.
func (r *Response) TokenStatus(err error) error {
	if err == nil || r == nil || r.StatusCode != http.StatusUnauthorized {
		return err // before e is declared: errors.As(&e) would allocate it on every call
	}
	var e *shoptoken.Error
	if !errors.As(err, &e) {
		return err
	}
	e.Kind = shoptoken.ErrCredentials
	return err
}
