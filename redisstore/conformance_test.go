package redisstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/seal"
	"github.com/shoptoken/shoptoken/storetest"
)

func TestStore_conformance(t *testing.T) {
	newClient(t, "storetest-probe") // skips (or fails) here, once, without Redis
	for _, tt := range []struct {
		name string
		opts []Option
	}{
		{"plain", nil},
		{"sealed", []Option{WithSeal(testKeyring(t, "b", "a"))}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			storetest.Run(t, func(t *testing.T) *storetest.Harness {
				e := newEnv(t) // a prefix of its own, so a due index of its own
				s := e.store(tt.opts...)
				stalled := e.store(append([]Option{withoutRenewal()}, tt.opts...)...)
				return &storetest.Harness{
					Store:  s,
					Peer:   e.store(tt.opts...), // its own client, as another process
					Damage: e.damage(s),
					Put: func(ctx context.Context, key string, tok *shoptoken.Token, version int64) error {
						data, err := s.encode(key, tok)
						if err != nil {
							return err
						}
						return e.admin.HSet(ctx, s.tokKey(key), "v", version, "tok", data).Err()
					},
					Stall: func(ctx context.Context, key string, ttl time.Duration) error {
						_, err := stalled.Lock(ctx, key, ttl) // never renewed, never unlocked
						return err
					},
				}
			})
		})
	}
}

// damage writes d over key's token hash, as another program or a broken disk would.
func (e *testEnv) damage(s *Store) func(ctx context.Context, key string, d storetest.Damage, secret string) error {
	return func(ctx context.Context, key string, d storetest.Damage, secret string) error {
		k := s.tokKey(key)
		v, err := e.admin.HGet(ctx, k, "v").Result()
		if err != nil {
			v = "3"
		}
		switch d {
		case storetest.Garbage:
			return e.admin.HSet(ctx, k, "v", v, "tok", "\x00\x01garbage "+secret).Err()
		case storetest.WrongTypes:
			return e.admin.HSet(ctx, k, "v", v, "tok", `{"access_token":["`+secret+`"],"expiry":"`+secret+`"}`).Err()
		case storetest.BadVersion:
			n, _ := strconv.ParseInt(v, 10, 64)
			return e.admin.HSet(ctx, k, "v", strconv.FormatFloat(float64(n), 'e', -1, 64), "tok", `{"access_token":"`+secret+`"}`).Err()
		case storetest.Foreign:
			return e.admin.Set(ctx, k, secret, 0).Err()
		case storetest.BadSeal:
			if s.cfg.kr == nil {
				return errors.ErrUnsupported
			}
			// Sealed under the current key's id, with another secret.
			other, err := seal.New(seal.Key{ID: s.cfg.kr.Current(), Secret: bytes.Repeat([]byte{0xEE}, 32)})
			if err != nil {
				return err
			}
			sealed, err := other.Seal(key, []byte(`{"access_token":"`+secret+`"}`))
			if err != nil {
				return err
			}
			return e.admin.HSet(ctx, k, "v", v, "tok", sealed).Err()
		}
		return errors.ErrUnsupported
	}
}

// TestStore_sealing runs storetest's sealing suite: rotation across a fleet of Caches, and no
// secret in clear anywhere under the test's prefix (every Redis value scanned).
func TestStore_sealing(t *testing.T) {
	newClient(t, "storetest-probe") // skips (or fails) here, once, without Redis
	storetest.RunSealing(t, func(t *testing.T) *storetest.SealHarness {
		e := newEnv(t)
		names := e.store() // for key names only
		return &storetest.SealHarness{
			Open: func(_ *testing.T, kr *seal.Keyring) shoptoken.Store { return e.store(WithSeal(kr)) },
			Raw: func(ctx context.Context, key string) (string, error) {
				return e.admin.HGet(ctx, names.tokKey(key), "tok").Result()
			},
			Dump: e.dump,
		}
	})
}

// dump returns every Redis key under the env's prefix and everything it holds, as strings.
func (e *testEnv) dump(ctx context.Context) ([]string, error) {
	var out []string
	iter := e.admin.Scan(ctx, 0, e.prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		kind, err := e.admin.Type(ctx, k).Result()
		if err != nil {
			return nil, err
		}
		var vals []string
		switch kind {
		case "hash":
			m, err := e.admin.HGetAll(ctx, k).Result()
			if err != nil {
				return nil, err
			}
			for f, v := range m {
				vals = append(vals, f, v)
			}
		case "string":
			v, err := e.admin.Get(ctx, k).Result()
			if err != nil && !errors.Is(err, redis.Nil) {
				return nil, err
			}
			vals = append(vals, v)
		case "zset":
			if vals, err = e.admin.ZRange(ctx, k, 0, -1).Result(); err != nil {
				return nil, err
			}
		case "none": // gone since the scan saw it
		default:
			return nil, fmt.Errorf("redis key of type %s under the prefix", kind)
		}
		out = append(out, k)
		out = append(out, vals...)
	}
	return out, iter.Err()
}
