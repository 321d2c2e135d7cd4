// Package testkit is the one set of test helpers every package of the module uses: a locked log
// buffer behind a slog.Logger, a recorder for events and callbacks, a fixture reader, the
// no-secret assertion with the strictest rule the SDK holds itself to (no 8-character piece of any
// secret in any output), and child processes of the test binary for the multi-process proofs
// (StartChild, WaitChildren, WaitFor).
//
// It imports nothing from the module, so the root package's internal tests can use it too.
package testkit
