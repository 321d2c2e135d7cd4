package shops

import (
	"context"
	"time"
)

// SetSleep replaces the real-time pauses of a's Keeper, for tests.
func SetSleep(a *App, f func(ctx context.Context, d time.Duration) error) { a.sleep = f }

// FlushDue writes what a's due writer holds now, as a sweep does before and after its work.
func (a *App) FlushDue(ctx context.Context) error {
	if a.due == nil {
		return nil
	}
	return a.due.flush(ctx)
}
