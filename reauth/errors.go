package reauth

import (
	"errors"

	"github.com/shoptoken/shoptoken"
)

// The reasons a Handler refuses a request. Each is the cause (Err) of the *shoptoken.Error that
// Config.OnFailed receives, so errors.Is(err, ErrLinkUsed) tells them apart; the platform's own
// errors (a code it refused, its credentials) reach OnFailed as the platform package returned them.
// None of them changed a stored token.
var (
	// ErrLinkInvalid: the link is malformed, or its signature does not match (it was altered, or
	// signed with another key). Kind shoptoken.ErrBadRequest.
	ErrLinkInvalid = errors.New("the link is malformed or its signature does not match")
	// ErrLinkExpired: the link's time ran out before it was opened. Kind shoptoken.ErrBadRequest.
	ErrLinkExpired = errors.New("the link has expired")
	// ErrLinkUsed: the link already authorized its shop once, in this process or another that
	// shares the Store. Kind shoptoken.ErrBadRequest.
	ErrLinkUsed = errors.New("the link has already been used")
	// ErrUnknownApp: the link is signed, but names a platform or app this Handler does not
	// serve. Kind shoptoken.ErrBadRequest.
	ErrUnknownApp = errors.New("the link is for a platform or app this handler does not serve")
	// ErrStateMismatch: the platform's answer carries no state, or one that does not match the
	// flow cookie of this browser (none, another flow's, or one altered): the request may be
	// forged (cross-site request forgery), or the link was opened in another browser. Kind
	// shoptoken.ErrBadRequest.
	ErrStateMismatch = errors.New("state missing or does not match this browser: possible cross-site request forgery")
	// ErrFlowExpired: the merchant took longer than Config.FlowTTL between opening the link and
	// coming back. Kind shoptoken.ErrBadRequest.
	ErrFlowExpired = errors.New("the authorization took too long")
	// ErrStateUsed: this answer of the platform (its state) was already handled: a double submit,
	// a reload or a replay. Kind shoptoken.ErrBadRequest.
	ErrStateUsed = errors.New("the platform's answer has already been handled")
	// ErrDenied: the merchant refused the authorization on the platform's page
	// (error=access_denied). Kind shoptoken.ErrReauthorize.
	ErrDenied = errors.New("the merchant did not authorize the app")
	// ErrOtherShop: the platform issued a token for another shop or user than the link's (the
	// merchant signed in with another account); it was not stored. Kind shoptoken.ErrBadRequest.
	ErrOtherShop = errors.New("the token is for another shop than the link's")
)

func refusal(k shoptoken.Key, op string, kind, cause error) *shoptoken.Error {
	return &shoptoken.Error{Platform: k.Platform, Op: op, Kind: kind, Err: cause}
}
