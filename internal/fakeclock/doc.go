// Package fakeclock is a manual clock for tests: time moves only when a test calls Advance, and
// timers due by then run in order before Advance returns.
package fakeclock
