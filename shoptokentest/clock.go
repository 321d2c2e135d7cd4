package shoptokentest

import (
	"time"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/fakeclock"
)

// Clock is a fake shoptoken.Clock for tests: time moves only when Advance is called, and the
// timers that fall due meanwhile (planned refreshes, expiries, grant warnings) run then, in time
// order, each at its own time. Give one Clock to everything in a test: the emulator (WithClock),
// the platform Config (its Clock field) and so every Cache, App and Keeper built from it. Its zero
// value is not usable; use NewClock. It is safe for concurrent use.
type Clock struct{ c *fakeclock.Clock }

var _ shoptoken.Clock = (*Clock)(nil)

// NewClock returns a Clock that reads start.
func NewClock(start time.Time) *Clock { return &Clock{c: fakeclock.New(start)} }

// Now returns the Clock's time.
func (c *Clock) Now() time.Time { return c.c.Now() }

// AfterFunc runs f once the Clock has been advanced by d (at once, on a new goroutine, for d <= 0)
// and returns a function that cancels it, reporting whether it did.
func (c *Clock) AfterFunc(d time.Duration, f func()) func() bool { return c.c.AfterFunc(d, f) }

// Advance moves the Clock by d, running every timer that falls due, in time order, on the calling
// goroutine.
func (c *Clock) Advance(d time.Duration) { c.c.Advance(d) }

// Pending returns how many timers are armed.
func (c *Clock) Pending() int { return c.c.Pending() }
