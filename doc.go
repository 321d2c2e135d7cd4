// Package shoptoken obtains, caches, refreshes, persists and shares OAuth access tokens for Chinese
// e-commerce platforms, so that order-sync jobs never think about tokens again and a fleet of them
// never kills each other's tokens.
//
// The root package is the engine; each platform has its own package built on it: veapi (Vipshop
// through veapi.cn), vvtool (vv-tool's Taobao tool API), vipauth (vip.com OAuth2) and youzan
// (Youzan cloud). redisstore and filestore share tokens between processes; shoptokentest emulates
// the four platforms for tests; restyauth puts tokens on a resty client, as each platform's
// APIPolicy says.
//
// # The engine
//
// A Cache wraps a Refresher (one platform call) and gives callers a valid token:
//
//   - the warm read (Token while the token is valid) takes no lock, allocates nothing and reads
//     no clock: an atomic pointer holds the token and a timer flips it when it expires;
//   - inside the early window (WithEarlyRefresh, jittered) one background refresh runs; callers
//     keep the valid token and never wait for it;
//   - when the token is missing or expired, concurrent callers share one refresh, which runs
//     detached from their contexts and fills the cache even if they all gave up;
//   - the platform call of a refresh, which may be destructive (a rotated refresh token, a fetch
//     that kills the previous token), starts only with its whole timeout ahead of it, whatever the
//     wait for the fleet's lease took, and its answer is always received and saved; Shutdown
//     waits for it before a process exits;
//   - a failed refresh while the token is valid is invisible to callers and retried with backoff;
//     permanent failures (ErrReauthorize, ErrCredentials) are reported at once, not retried in a loop;
//   - Invalidate(rejected) is compare-and-refresh: it calls the platform only if rejected is still
//     the current token here or in the store;
//   - platform calls per key are spaced by a minimum interval (WithMinInterval).
//
// # Shutting down
//
// Close stops a Cache at once; Shutdown(ctx) also waits until the refresh under way has ended and
// its token is saved. A process that exits calls Shutdown on its Keeper, then on its Registry (or
// Caches), so that no rotation in flight is lost:
//
//	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
//	defer cancel()
//	_ = keeper.Shutdown(ctx)
//	if err := reg.Shutdown(ctx); err != nil {
//		log.Print("tokens left unsaved: ", err)
//	}
//
// # Concurrency
//
// A Cache, a MemoryStore and a Transport are safe for concurrent use. Tokens returned by a Cache are
// shared: treat them as read-only.
//
// # Stores
//
// With WithStore, a new token is saved (versioned compare-and-swap) before any caller sees it, so a
// rotated refresh token is never lost; on a lost compare-and-swap the newer stored token wins without
// a second platform call; if the save fails the token is used in memory, saving is retried in the
// background and EventSaveFailed reports it. If the Store is also a Locker, one process per key
// refreshes under a lease while the others wait and then load; a Watcher store wakes them as soon
// as the token changes. When the store is unreachable the Cache keeps serving its valid in-memory
// token and still spaces platform calls.
//
// # Errors
//
// Platform failures are *Error values carrying the platform's code, message and request id, and a
// Kind that errors.Is matches:
//
//	tok, err := src.Token(ctx)
//	switch {
//	case errors.Is(err, shoptoken.ErrReauthorize):
//		notifyMerchant(shop) // a person must authorize again
//	case errors.Is(err, shoptoken.ErrUnavailable):
//		retryLater()
//	}
//
// No error string, log line or fmt output contains a token, secret or code: they show as their
// first four characters, "…" and their length.
//
// # Events
//
// WithEvents and WithLogger observe what the Cache does (EventRefreshed, EventRefreshFailed,
// EventAdopted, EventPersisted, EventSaveFailed, EventGrantLost, EventGrantExpiring,
// EventStoreFailed): feed them to metrics, alerting or slog.
package shoptoken
