package sqlstore

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStore_LeaseInfo: free, then held by a Lock (its owner id and a lapse within the ttl, by the
// database's clock), then free again after unlock.
func TestStore_LeaseInfo(t *testing.T) {
	eachServer(t, func(t *testing.T, srv server) {
		t.Parallel()
		ctx := context.Background()
		e := newEnv(t, srv)
		s := e.store(t, 0)
		owner, exp, err := s.LeaseInfo(ctx, "veapi/acct/1")
		require.NoError(t, err)
		assert.Empty(t, owner)
		assert.True(t, exp.IsZero())

		unlock, err := s.Lock(ctx, "veapi/acct/1", 10*time.Second)
		require.NoError(t, err)
		var held string
		require.NoError(t, e.admin.QueryRowContext(ctx, e.sql("SELECT owner FROM {leases}")).Scan(&held))
		owner, exp, err = e.store(t, 1).LeaseInfo(ctx, "veapi/acct/1")
		require.NoError(t, err)
		assert.Equal(t, held, owner)
		assert.WithinDuration(t, time.Now().Add(10*time.Second), exp, 2*time.Second)
		unlock()
		owner, _, err = s.LeaseInfo(ctx, "veapi/acct/1")
		require.NoError(t, err)
		assert.Empty(t, owner, "released")
	})
}
