//go:build unix

package sqlstore

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/fleetproof"
	"github.com/shoptoken/shoptoken/internal/testkit"
)

// TestFleet_fencing: a lease holder that stalls past its lease is fenced off by the version, on
// each database (fleetproof.Fencing: child process A frozen with SIGSTOP inside its refresh, its
// lease lapsing by the database's clock, holder B refreshing, A resumed with a late token that
// must never reach the database).
func TestFleet_fencing(t *testing.T) {
	eachServer(t, func(t *testing.T, srv server) {
		e := newEnv(t, srv)
		live := e.sql(`SELECT count(*) FROM {leases} WHERE store_key = $1 AND expires_at > now()`)
		if srv.d == MySQL {
			live = e.sql(`SELECT count(*) FROM {leases} WHERE store_key = ? AND expires_at > UTC_TIMESTAMP(6)`)
		}
		fleetproof.Fencing{
			Key:   shoptoken.Key{Platform: "fleet", App: "app", Shop: "shop-1"},
			Store: func(t *testing.T, i int) fleetproof.Shared { return e.store(t, i) },
			LeaseHeld: func(t *testing.T) bool {
				var n int
				require.NoError(t, e.admin.QueryRowContext(context.Background(), live, []byte(fleetKey)).Scan(&n))
				return n == 1
			},
			StartStall: func(t *testing.T, env string) *testkit.Child {
				return startChild(t, e, "stall", "A", env)
			},
		}.Run(t)
	})
}
