package xoauth2_test

import (
	"context"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/xoauth2"
)

// The warm path: a Cache holding a valid token, read directly, through NewTokenSource, and through
// the ReuseTokenSource that oauth2.NewClient puts in front of it.
func BenchmarkTokenSource_warm(b *testing.B) {
	cache, err := shoptoken.NewCache(shoptoken.RefresherFunc(func(context.Context, *shoptoken.Token, shoptoken.Reason) (*shoptoken.Token, error) {
		b.Fatal("refresh on the warm path")
		return nil, nil
	}), shoptoken.WithToken(sampleToken(time.Now().Add(time.Hour))))
	if err != nil {
		b.Fatal(err)
	}
	defer cache.Close()
	ctx := context.Background()
	ts := xoauth2.NewTokenSource(cache)
	reuse := oauth2.ReuseTokenSource(nil, ts)
	for name, get := range map[string]func() error{
		"cache":       func() error { _, err := cache.Token(ctx); return err },
		"tokensource": func() error { _, err := ts.Token(); return err },
		"reuse":       func() error { _, err := reuse.Token(); return err },
	} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := get(); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
