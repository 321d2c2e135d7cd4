package redisstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shoptoken/shoptoken"
)

var _ shoptoken.FailureIndex = (*Store)(nil)

// failKey is the failure index of namespace ns: one hash per namespace, in the slot of {ns} as
// its due index, whose fields are full store keys and whose values are failureJSON.
func (s *Store) failKey(ns string) string { return s.cfg.prefix + "failures:{" + ns + "}" }

// failureJSON is how one failure is stored: small, and without the key, which is the field.
type failureJSON struct {
	At      int64  `json:"at"` // Unix milliseconds
	Kind    string `json:"kind"`
	Message string `json:"msg,omitempty"`
}

// RecordFailures implements shoptoken.FailureIndex: one HSET of every failure (several, pipelined,
// for more than 1000), in one round trip.
func (s *Store) RecordFailures(ctx context.Context, ns string, fs ...shoptoken.Failure) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: record failures in %q: %w", ns, err)
	}
	if len(fs) == 0 {
		return nil
	}
	vals := make([]any, 0, 2*len(fs))
	for _, f := range fs {
		b, err := json.Marshal(failureJSON{At: f.At.UnixMilli(), Kind: f.Kind, Message: f.Message})
		if err != nil {
			return fmt.Errorf("redisstore: record failures in %q: %w", ns, err)
		}
		vals = append(vals, f.Key, string(b))
	}
	key := s.failKey(ns)
	err := s.chunked(ctx, len(fs), func(p redis.Cmdable, lo, hi int) error {
		return p.HSet(ctx, key, vals[2*lo:2*hi]...).Err()
	})
	if err != nil {
		return fmt.Errorf("redisstore: record %d failures in %q: %w", len(fs), ns, err)
	}
	return nil
}

// ClearFailures implements shoptoken.FailureIndex: one HDEL of every key, in one round trip.
func (s *Store) ClearFailures(ctx context.Context, ns string, keys ...string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: clear failures in %q: %w", ns, err)
	}
	if len(keys) == 0 {
		return nil
	}
	key := s.failKey(ns)
	err := s.chunked(ctx, len(keys), func(p redis.Cmdable, lo, hi int) error {
		return p.HDel(ctx, key, keys[lo:hi]...).Err()
	})
	if err != nil {
		return fmt.Errorf("redisstore: clear %d failures in %q: %w", len(keys), ns, err)
	}
	return nil
}

// Failures implements shoptoken.FailureIndex: one HGETALL. A value that is not a failure this
// package wrote is reported with the key's kind "other" and no message, never quoted.
func (s *Store) Failures(ctx context.Context, ns string) ([]shoptoken.Failure, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("redisstore: failures in %q: %w", ns, err)
	}
	m, err := s.rdb.HGetAll(ctx, s.failKey(ns)).Result()
	if err != nil {
		return nil, fmt.Errorf("redisstore: failures in %q: %w", ns, err)
	}
	out := make([]shoptoken.Failure, 0, len(m))
	for k, v := range m {
		var f failureJSON
		if json.Unmarshal([]byte(v), &f) != nil {
			f = failureJSON{Kind: "other"}
		}
		out = append(out, shoptoken.Failure{Key: k, At: time.UnixMilli(f.At), Kind: f.Kind, Message: f.Message})
	}
	return out, nil
}

// LeaseInfo reports who holds key's lease, for operators' tools: the holder's random owner id
// and when the lease lapses unless renewed; an empty owner when the lease is free. It is one
// round trip (GET and PTTL, pipelined) and changes nothing.
func (s *Store) LeaseInfo(ctx context.Context, key string) (owner string, expires time.Time, err error) {
	if err := ctx.Err(); err != nil {
		return "", time.Time{}, fmt.Errorf("redisstore: lease info %q: %w", key, err)
	}
	lk := s.leaseKey(key)
	pipe := s.rdb.Pipeline()
	get := pipe.Get(ctx, lk)
	ttl := pipe.PTTL(ctx, lk)
	start := time.Now()
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		return "", time.Time{}, fmt.Errorf("redisstore: lease info %q: %w", key, err)
	}
	owner, err = get.Result()
	if err == redis.Nil {
		return "", time.Time{}, nil
	}
	if err != nil {
		return "", time.Time{}, fmt.Errorf("redisstore: lease info %q: %w", key, err)
	}
	if d := ttl.Val(); d > 0 {
		expires = start.Add(d)
	}
	return owner, expires, nil
}
