package redisstore

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/storetest"
)

func TestStore_conformance(t *testing.T) {
	newClient(t, "storetest-probe") // skips (or fails) here, once, without Redis
	storetest.Run(t, func(t *testing.T) *storetest.Harness {
		e := newEnv(t) // a prefix of its own, so a due index of its own
		s := e.store()
		stalled := e.store(withoutRenewal())
		return &storetest.Harness{
			Store:  s,
			Peer:   e.store(), // its own client, as another process
			Damage: e.damage(s),
			Put: func(ctx context.Context, key string, tok *shoptoken.Token, version int64) error {
				return e.admin.HSet(ctx, s.tokKey(key), "v", version, "tok", mustJSON(t, tok)).Err()
			},
			Stall: func(ctx context.Context, key string, ttl time.Duration) error {
				_, err := stalled.Lock(ctx, key, ttl) // never renewed, never unlocked
				return err
			},
		}
	})
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
		}
		return errors.ErrUnsupported
	}
}
