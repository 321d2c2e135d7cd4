package shoptoken

import (
	"log/slog"
	"strconv"
	"time"
)

// EventKind says what happened to a Cache's token.
type EventKind int

const (
	// EventRefreshed: the platform issued a new token (Reason says why).
	EventRefreshed EventKind = iota + 1
	// EventRefreshFailed: a platform call failed; Err says why. With a valid token, callers did not see it.
	EventRefreshFailed
	// EventAdopted: a token saved by another process (or found at start) replaced ours, without a platform call.
	EventAdopted
	// EventPersisted: a new token was saved to the Store (Version is its version).
	EventPersisted
	// EventSaveFailed: saving a new token failed; it is used in memory and saving is retried. Act on
	// it: until it is saved, a rotated refresh token lives in this process only.
	EventSaveFailed
	// EventGrantLost: the platform says the grant is gone (ErrReauthorize or ErrCredentials): a person
	// must authorize again.
	EventGrantLost
	// EventGrantExpiring: the grant lapses within the WithGrantWarning window: ask the merchant to
	// authorize again now, while the token still works.
	EventGrantExpiring
	// EventStoreFailed: a Store or lease round trip failed; the Cache went on without it.
	EventStoreFailed
	// EventStoreCorrupt: the Store holds a value under the key that is not a readable token. The
	// Cache treats it as no token and replaces it with the next one it obtains; reported once
	// until then.
	EventStoreCorrupt
)

// String returns the event's name as used in logs: "refreshed", "refresh_failed", ...
func (k EventKind) String() string {
	switch k {
	case EventRefreshed:
		return "refreshed"
	case EventRefreshFailed:
		return "refresh_failed"
	case EventAdopted:
		return "adopted"
	case EventPersisted:
		return "persisted"
	case EventSaveFailed:
		return "save_failed"
	case EventGrantLost:
		return "grant_lost"
	case EventGrantExpiring:
		return "grant_expiring"
	case EventStoreFailed:
		return "store_failed"
	case EventStoreCorrupt:
		return "store_corrupt"
	}
	return "event(" + strconv.Itoa(int(k)) + ")"
}

// Event is one thing that happened to a Cache's token. It is built for both logs (it is a
// slog.LogValuer and never shows a secret) and metrics: Kind, Key.Platform, Key.App and Reason are
// low-cardinality labels, Duration a value; Key.Shop identifies the shop (there may be a million:
// log it, do not make it a metric label).
type Event struct {
	Kind     EventKind
	Key      Key           // the token's Key: Platform and App are labels for metrics, Shop is not
	Reason   Reason        // why the refresh ran (refresh events)
	Token    *Token        // the token concerned, when there is one; read-only
	Version  int64         // store version (EventPersisted, EventAdopted)
	Err      error         // the failure (EventRefreshFailed, EventSaveFailed, EventGrantLost, EventStoreFailed)
	Duration time.Duration // how long the platform call took (refresh events)
	Due      time.Time     // when Token's planned refresh or grant warning is due (zero: never)
	Time     time.Time
}

// LogValue implements slog.LogValuer.
func (e Event) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("event", e.Kind.String()), slog.String("platform", e.Key.Platform),
		slog.String("app", e.Key.App)}
	if e.Key.Shop != "" {
		attrs = append(attrs, slog.String("shop", e.Key.Shop))
	}
	switch e.Kind {
	case EventRefreshed, EventRefreshFailed, EventGrantLost:
		attrs = append(attrs, slog.String("reason", e.Reason.String()), slog.Duration("took", e.Duration))
	}
	if e.Version != 0 {
		attrs = append(attrs, slog.Int64("version", e.Version))
	}
	if e.Token != nil {
		attrs = append(attrs, slog.Any("token", *e.Token))
	}
	if e.Err != nil {
		attrs = append(attrs, slog.String("err", e.Err.Error()))
	}
	return slog.GroupValue(attrs...)
}

func (k EventKind) level() slog.Level {
	switch k {
	case EventRefreshFailed, EventStoreFailed, EventGrantExpiring:
		return slog.LevelWarn
	case EventStoreCorrupt:
		return slog.LevelError
	case EventSaveFailed, EventGrantLost:
		return slog.LevelError
	case EventPersisted, EventAdopted:
		return slog.LevelDebug
	}
	return slog.LevelInfo
}
