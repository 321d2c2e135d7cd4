package shops

import (
	"context"
	"time"
)

// SetSleep replaces the real-time pauses of a's Keeper, for tests.
func SetSleep(a *App, f func(ctx context.Context, d time.Duration) error) { a.sleep = f }
