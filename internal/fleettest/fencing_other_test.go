//go:build !unix

package fleettest

import "errors"

// runStallChild needs SIGSTOP, which only Unix has; TestFleet_leaseExpiry_fencing is Unix-only.
func runStallChild(*childEnv) error { return errors.New("the stall role needs Unix signals") }
