//go:build unix

package fleettest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken/internal/fleetproof"
	"github.com/shoptoken/shoptoken/internal/testkit"
)

// TestFleet_leaseExpiry_fencing: a lease holder that stalls past its lease is fenced off by the
// store's version (fleetproof.Fencing, as sqlstore runs it on PostgreSQL and MariaDB: child
// process A frozen with SIGSTOP inside its refresh, its lease lapsing, holder B refreshing, A
// resumed with a late token that must never reach Redis). go-redis applies context deadlines to
// commands only with Options.ContextTimeoutEnabled, which is off here (the default), so A's late
// Save is sent and meets ErrConflict.
func TestFleet_leaseExpiry_fencing(t *testing.T) {
	f := newFleet(t)
	leaseKey := f.prefix + "{" + stallKey + "}:lease" // redisstore's documented key layout
	fleetproof.Fencing{
		Key:   fk(stallKey),
		Store: func(*testing.T, int) fleetproof.Shared { return f.store() },
		LeaseHeld: func(t *testing.T) bool {
			n, err := f.rdb.Exists(context.Background(), leaseKey).Result()
			require.NoError(t, err)
			return n == 1
		},
		StartStall: func(_ *testing.T, env string) *testkit.Child { return f.startChild("stall", "A", "", env) },
	}.Run(t)
}
