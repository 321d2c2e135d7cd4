package shoptoken_test

import (
	"context"
	"testing"
	"time"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/storetest"
)

func TestMemoryStore_conformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) *storetest.Harness {
		m := shoptoken.NewMemoryStore()
		return &storetest.Harness{
			Store: m,
			Put: func(_ context.Context, key string, tok *shoptoken.Token, version int64) error {
				m.PutForTest(key, tok, version)
				return nil
			},
			Stall: func(_ context.Context, key string, ttl time.Duration) error {
				m.StallForTest(key, ttl)
				return nil
			},
		}
	})
}
