package redisstore

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStore_LeaseInfo: free, then held by a Lock (its owner id and a lapse within the ttl), then
// free again after unlock; one round trip each, and nothing changes.
func TestStore_LeaseInfo(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	s, c := e.countedStore(t)
	warmScripts(t, s)
	c.take()
	owner, exp, err := s.LeaseInfo(ctx, "youzan/id/1")
	require.NoError(t, err)
	assert.Empty(t, owner)
	assert.True(t, exp.IsZero())
	n, _ := c.take()
	assert.Equal(t, 1, n, "one round trip")

	unlock, err := s.Lock(ctx, "youzan/id/1", 10*time.Second)
	require.NoError(t, err)
	held, err := e.admin.Get(ctx, s.leaseKey("youzan/id/1")).Result()
	require.NoError(t, err)
	owner, exp, err = s.LeaseInfo(ctx, "youzan/id/1")
	require.NoError(t, err)
	assert.Equal(t, held, owner)
	assert.WithinDuration(t, time.Now().Add(10*time.Second), exp, 2*time.Second)
	unlock()
	owner, _, err = s.LeaseInfo(ctx, "youzan/id/1")
	require.NoError(t, err)
	assert.Empty(t, owner)

	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	down := New(rdb, WithPrefix(e.prefix))
	_, _, err = down.LeaseInfo(ctx, "youzan/id/1")
	require.Error(t, err)
}
