package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/shoptoken/shoptoken"
)

// Exit codes. Scripts may rely on them; they are part of the command's interface.
const (
	exitOK          = 0 // done
	exitUsage       = 1 // bad flags, arguments or configuration (a missing secret included)
	exitNotFound    = 2 // no stored token for the shop, or no such app
	exitReauthorize = 3 // the grant is gone: a person must authorize again
	exitUnavailable = 4 // the platform or the store cannot be reached, timed out, or rate-limits
	exitCredentials = 5 // the platform refused the app's own credentials (wrong secret)
	exitFailed      = 6 // anything else: a bad answer, a refused request
)

// usageError is a mistake in how the command was called or configured.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// notFoundError says that what was asked for does not exist.
type notFoundError struct{ msg string }

func (e *notFoundError) Error() string { return e.msg }

func notFoundf(format string, args ...any) error { return &notFoundError{fmt.Sprintf(format, args...)} }

// exitCode maps an error to the command's exit code.
func exitCode(err error) int {
	var ue *usageError
	var nf *notFoundError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		return exitUsage
	case errors.As(err, &nf), errors.Is(err, shoptoken.ErrNotFound):
		return exitNotFound
	case errors.Is(err, shoptoken.ErrReauthorize):
		return exitReauthorize
	case errors.Is(err, shoptoken.ErrCredentials):
		return exitCredentials
	case errors.Is(err, context.DeadlineExceeded):
		return exitUnavailable
	}
	switch shoptoken.KindOf(err) {
	case shoptoken.ErrUnavailable, shoptoken.ErrRateLimited:
		return exitUnavailable
	case shoptoken.ErrBadRequest:
		var e *shoptoken.Error
		if errors.As(err, &e) && e.Platform == "" && (e.Op == "new_app" || e.Op == "shop" || e.Op == "key") {
			return exitUsage // the SDK refused our configuration or a shop id before sending anything
		}
	}
	return exitFailed
}

// kindName names err's kind in JSON output.
func kindName(err error) string {
	switch exitCode(err) {
	case exitUsage:
		return "usage"
	case exitNotFound:
		return "not_found"
	case exitReauthorize:
		return "reauthorize"
	case exitCredentials:
		return "credentials"
	case exitUnavailable:
		return "unavailable"
	}
	return "failed"
}
