package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shoptoken/shoptoken"
)

// dueChunk is the most members one ZADD or ZREM carries: a batch of a whole fleet is sent as
// several commands in one pipeline, so that no single command holds Redis up for long nor builds
// a reply buffer of megabytes.
const dueChunk = 1000

// dueKey is the due index of namespace ns: one sorted set per namespace, whose members are full
// store keys scored by Unix milliseconds. The namespace is the key's Redis Cluster hash tag, so
// that each namespace's index lives in one slot (every command touches one key) while the indexes
// of different apps spread over the cluster. Key.Namespace escapes braces, so the tag is the
// whole namespace; any other ns still names a distinct key (only its slot may differ).
func (s *Store) dueKey(ns string) string { return s.cfg.prefix + "due:{" + ns + "}" }

// Schedule implements shoptoken.DueIndex: it sets (or moves) the due time of each key in the
// sorted set of namespace ns. All dues go in one round trip: one ZADD of up to 1000 members, or
// several in one pipeline for more. Redis applies each ZADD whole, but a pipeline is not a
// transaction: if Redis fails part-way, some chunks may have been written.
func (s *Store) Schedule(ctx context.Context, ns string, dues ...shoptoken.Due) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: schedule in %q: %w", ns, err)
	}
	if len(dues) == 0 {
		return nil
	}
	key := s.dueKey(ns)
	members := make([]redis.Z, len(dues))
	for i, d := range dues {
		members[i] = redis.Z{Score: float64(d.At.UnixMilli()), Member: d.Key}
	}
	err := s.chunked(ctx, len(members), func(p redis.Cmdable, lo, hi int) error {
		return p.ZAdd(ctx, key, members[lo:hi]...).Err()
	})
	if err != nil {
		return fmt.Errorf("redisstore: schedule %d keys in %q: %w", len(dues), ns, err)
	}
	return nil
}

// Unschedule implements shoptoken.DueIndex: one ZREM of all keys (chunked as Schedule's), in one
// round trip. Removing an absent key is not an error.
func (s *Store) Unschedule(ctx context.Context, ns string, keys ...string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: unschedule in %q: %w", ns, err)
	}
	if len(keys) == 0 {
		return nil
	}
	key := s.dueKey(ns)
	members := make([]any, len(keys))
	for i, k := range keys {
		members[i] = k
	}
	err := s.chunked(ctx, len(members), func(p redis.Cmdable, lo, hi int) error {
		return p.ZRem(ctx, key, members[lo:hi]...).Err()
	})
	if err != nil {
		return fmt.Errorf("redisstore: unschedule %d keys in %q: %w", len(keys), ns, err)
	}
	return nil
}

// chunked calls add for each chunk of dueChunk of n items: directly for one chunk, otherwise
// queued in one pipeline, so that either way the batch costs one round trip.
func (s *Store) chunked(ctx context.Context, n int, add func(p redis.Cmdable, lo, hi int) error) error {
	if n <= dueChunk {
		return add(s.rdb, 0, n)
	}
	pipe := s.rdb.Pipeline()
	for lo := 0; lo < n; lo += dueChunk {
		_ = add(pipe, lo, min(lo+dueChunk, n)) // queued: the error comes from Exec
	}
	_, err := pipe.Exec(ctx)
	return err
}

// Due implements shoptoken.DueIndex: the keys of namespace ns due at or before now, earliest
// first (ties in key order), up to limit; limit <= 0 means no limit. It is one ZRANGEBYSCORE and
// costs O(log n + returned keys) in Redis. Due does not remove the keys: Schedule them again once
// refreshed, or Unschedule them.
func (s *Store) Due(ctx context.Context, ns string, now time.Time, limit int) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("redisstore: due in %q: %w", ns, err)
	}
	count := int64(limit)
	if limit <= 0 {
		count = -1
	}
	keys, err := s.rdb.ZRangeByScore(ctx, s.dueKey(ns), &redis.ZRangeBy{
		Min:   "-inf",
		Max:   strconv.FormatInt(now.UnixMilli(), 10),
		Count: count,
	}).Result()
	if err != nil {
		return nil, fmt.Errorf("redisstore: due in %q: %w", ns, err)
	}
	return keys, nil
}
