package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Schedule records that key is due for a refresh at due, in the due index (a sorted set
// "<prefix>keeper:due" scored by Unix milliseconds). Scheduling a key again moves it. A keeper
// process calls Due to find the keys to refresh before their grants lapse, without scanning.
func (s *Store) Schedule(ctx context.Context, key string, due time.Time) error {
	err := s.rdb.ZAdd(ctx, s.dueKey(), redis.Z{Score: float64(due.UnixMilli()), Member: key}).Err()
	if err != nil {
		return fmt.Errorf("redisstore: schedule %q: %w", key, err)
	}
	return nil
}

// Unschedule removes key from the due index. Removing an absent key is not an error.
func (s *Store) Unschedule(ctx context.Context, key string) error {
	if err := s.rdb.ZRem(ctx, s.dueKey(), key).Err(); err != nil {
		return fmt.Errorf("redisstore: unschedule %q: %w", key, err)
	}
	return nil
}

// Due returns up to limit keys whose due time is at or before now, earliest first; limit <= 0
// means no limit. It costs O(log n + returned keys). Due does not remove the keys: Schedule them
// again once refreshed, or Unschedule them.
func (s *Store) Due(ctx context.Context, now time.Time, limit int) ([]string, error) {
	count := int64(limit)
	if limit <= 0 {
		count = -1
	}
	keys, err := s.rdb.ZRangeByScore(ctx, s.dueKey(), &redis.ZRangeBy{
		Min:   "-inf",
		Max:   strconv.FormatInt(now.UnixMilli(), 10),
		Count: count,
	}).Result()
	if err != nil {
		return nil, fmt.Errorf("redisstore: due: %w", err)
	}
	return keys, nil
}
