package shoptoken

import (
	"context"
	"time"
)

// FailureIndex is an optional store capability: per namespace (Key.Namespace), the last failed
// refresh of each key, so that operators' tools can list the shops that need a person or keep
// failing, at fleet scale, without reading every token. shops.App records into it, in batches,
// when its store's due index offers it: a failed refresh (EventRefreshFailed, EventGrantLost) is
// recorded, and the App clears the record once that shop's refresh succeeds in the same process.
//
// A record may outlive its cause: another process may have refreshed the shop since, or a person
// authorized it again. A reader therefore compares a Failure with the key's stored token: a
// failure older than the token's IssuedAt is stale (Failure.Stale). MemoryStore, redisstore and
// sqlstore implement it. Each method returns an error wrapping ctx's error, having changed
// nothing, when ctx has ended before it is called.
type FailureIndex interface {
	// RecordFailures sets the last failure of each key in ns, replacing what was there, in one
	// round trip for all of them.
	RecordFailures(ctx context.Context, ns string, fs ...Failure) error
	// ClearFailures forgets the failures of keys in ns; an absent key is not an error.
	ClearFailures(ctx context.Context, ns string, keys ...string) error
	// Failures returns every failure recorded in ns, in no particular order.
	Failures(ctx context.Context, ns string) ([]Failure, error)
}

// Failure is the last failed refresh of one key in a FailureIndex. None of its fields holds a
// secret: Message is the error's text, and the SDK's errors never hold one.
type Failure struct {
	Key string    // the store key (Key.String)
	At  time.Time // when the refresh failed, by the recording App's clock
	// Kind names the error's kind as KindOf reads it: "reauthorize", "credentials",
	// "unavailable", "rate_limited", "bad_response", "bad_request", "permission",
	// "token_invalid", or "other" (a store's kinds: not found, conflict, corrupt).
	Kind string
	// Message is the error's text on one line, at most MaxFailureMessage bytes.
	Message string
}

// MaxFailureMessage is the longest Failure.Message a FailureIndex is given.
const MaxFailureMessage = 200

// Permanent reports whether only a person can fix the failure: the grant is gone
// ("reauthorize") or the app's credentials were refused ("credentials"), as IsPermanent says of
// the error.
func (f Failure) Permanent() bool { return f.Kind == "reauthorize" || f.Kind == "credentials" }

// Stale reports whether f happened before tok was issued, so that tok (saved by another process,
// or installed after the merchant authorized again) has superseded it. A nil tok or one whose
// IssuedAt is unknown supersedes nothing.
func (f Failure) Stale(tok *Token) bool {
	return tok != nil && !tok.IssuedAt.IsZero() && tok.IssuedAt.After(f.At)
}

// FailureOf returns the Failure that err makes for key at the time at: its kind's name and its
// text on one line, cut to MaxFailureMessage bytes at a character boundary.
func FailureOf(key string, at time.Time, err error) Failure {
	f := Failure{Key: key, At: at, Kind: kindName(err)}
	if err != nil {
		f.Message = oneLine(err.Error(), MaxFailureMessage)
	}
	return f
}

func kindName(err error) string {
	switch KindOf(err) {
	case ErrReauthorize:
		return "reauthorize"
	case ErrCredentials:
		return "credentials"
	case ErrUnavailable:
		return "unavailable"
	case ErrRateLimited:
		return "rate_limited"
	case ErrBadResponse:
		return "bad_response"
	case ErrBadRequest:
		return "bad_request"
	case ErrPermission:
		return "permission"
	case ErrTokenInvalid:
		return "token_invalid"
	}
	return "other"
}

// oneLine replaces control characters with spaces and cuts s to at most n bytes without splitting
// a UTF-8 character.
func oneLine(s string, n int) string {
	b := []byte(s)
	for i, c := range b {
		if c < ' ' || c == 0x7f {
			b[i] = ' '
		}
	}
	if len(b) <= n {
		return string(b)
	}
	cut := n
	for cut > 0 && b[cut]&0xC0 == 0x80 { // a continuation byte: back up to the character's start
		cut--
	}
	return string(b[:cut])
}

// memFailures holds a MemoryStore's FailureIndex: namespace → key → failure.
type memFailures map[string]map[string]Failure

// RecordFailures implements FailureIndex.
func (m *MemoryStore) RecordFailures(ctx context.Context, ns string, fs ...Failure) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.dueMu.Lock()
	defer m.dueMu.Unlock()
	if m.fails == nil {
		m.fails = memFailures{}
	}
	if m.fails[ns] == nil {
		m.fails[ns] = map[string]Failure{}
	}
	for _, f := range fs {
		m.fails[ns][f.Key] = f
	}
	return nil
}

// ClearFailures implements FailureIndex.
func (m *MemoryStore) ClearFailures(ctx context.Context, ns string, keys ...string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.dueMu.Lock()
	defer m.dueMu.Unlock()
	for _, k := range keys {
		delete(m.fails[ns], k)
	}
	return nil
}

// Failures implements FailureIndex.
func (m *MemoryStore) Failures(ctx context.Context, ns string) ([]Failure, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.dueMu.RLock()
	defer m.dueMu.RUnlock()
	out := make([]Failure, 0, len(m.fails[ns]))
	for _, f := range m.fails[ns] {
		out = append(out, f)
	}
	return out, nil
}
