package shoptoken

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken/internal/testkit"
)

// TestCache_logsNeverShowTokens: json.Marshal of a Token is its faithful, secret-bearing
// persistence format, so no log path of the engine may use it. A Cache with a Store, logging at
// Debug through both slog handlers, is taken through a failed refresh, refreshes, a rejection, a
// Set and a store that fails: no line shows a piece of any token it handled.
func TestCache_logsNeverShowTokens(t *testing.T) {
	var (
		mu     sync.Mutex
		issued []string
		n      int
	)
	ref := RefresherFunc(func(context.Context, *Token, Reason) (*Token, error) {
		mu.Lock()
		defer mu.Unlock()
		n++
		if n == 1 {
			return nil, &Error{Platform: "test", Op: "refresh", Kind: ErrUnavailable, Message: "busy"}
		}
		tok := &Token{AccessToken: fmt.Sprintf("AT%02dq2Wm7Xz4Nv8Pb3Kj7Lr1Hc5Gs9Fd2Ea6Ty0", n),
			RefreshToken: fmt.Sprintf("RT%02dm0Xz4Nv8Pb3Kj7Lr1Hc5Gs9Fd2Ea6Ty0Ui", n), Expiry: time.Now().Add(time.Hour)}
		issued = append(issued, tok.AccessToken, tok.RefreshToken)
		return tok, nil
	})
	logger, logs := testkit.BothLogger()
	store := newFlaky()
	c := newTestCache(t, ref, storeAt(store, "shop-1"), WithLogger(logger), WithMinInterval(0), WithBackoff(time.Millisecond, time.Millisecond))
	defer c.Close()
	ctx := context.Background()

	_, err := c.Token(ctx) // refresh_failed
	require.Error(t, err)
	require.Eventually(t, func() bool { _, err := c.Token(ctx); return err == nil }, 5*time.Second, 5*time.Millisecond)
	tok, err := c.Token(ctx)
	require.NoError(t, err)
	_, err = c.Invalidate(ctx, tok) // refreshed, persisted
	require.NoError(t, err)
	set := &Token{AccessToken: "SETq2Wm7Xz4Nv8Pb3Kj7Lr1Hc5Gs9Fd2Ea6Ty0Uz", RefreshToken: "SETm0Xz4Nv8Pb3Kj7Lr1Hc5Gs9Fd2Ea6Ty0UiRt",
		Expiry: time.Now().Add(time.Hour)}
	require.NoError(t, c.Set(ctx, set))
	down := errStoreDown
	store.saveErr.Store(&down) // save_failed
	store.loadErr.Store(&down) // store_failed
	_, _ = c.Refresh(ctx)
	store.saveErr.Store(nil)
	store.loadErr.Store(nil)

	mu.Lock()
	secrets := append([]string{set.AccessToken, set.RefreshToken}, issued...)
	mu.Unlock()
	out := logs.String()
	require.Contains(t, out, "shoptoken: refreshed", "the Cache logged its events")
	require.Contains(t, out, "AT02…(", "tokens are logged, shortened")
	testkit.NoSecret(t, "Cache log", secrets, out)
}
