package redisstore

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/shoptoken/shoptoken"
)

func benchToken() *shoptoken.Token {
	return &shoptoken.Token{
		AccessToken:  "at-0123456789abcdef0123456789abcdef",
		RefreshToken: "rt-0123456789abcdef0123456789abcdef",
		TokenType:    "Bearer",
		Expiry:       time.Now().Add(time.Hour).UTC(),
		Subject:      "88888",
		Extra:        map[string]string{"status": "1"},
	}
}

func reportTokens(b *testing.B, tokens int) {
	b.ReportMetric(float64(tokens)/b.Elapsed().Seconds(), "tokens/s")
}

func BenchmarkLoad(b *testing.B) {
	ctx := context.Background()
	s := newEnv(b).store()
	if _, err := s.Save(ctx, "k", benchToken(), 0); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := s.Load(ctx, "k"); err != nil {
			b.Fatal(err)
		}
	}
	reportTokens(b, b.N)
}

func BenchmarkSave(b *testing.B) {
	ctx := context.Background()
	s := newEnv(b).store()
	tok := benchToken()
	var v int64
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if v, err = s.Save(ctx, "k", tok, v); err != nil {
			b.Fatal(err)
		}
	}
	reportTokens(b, b.N)
}

func BenchmarkLoadMany(b *testing.B) {
	ctx := context.Background()
	e := newEnv(b)
	s := e.store()
	const n = 100000
	keys := make([]string, n)
	for i := range keys {
		keys[i] = "shop:" + strconv.Itoa(i)
	}
	tok := benchToken()
	for start := 0; start < n; start += loadBatch {
		pipe := s.rdb.Pipeline()
		for _, k := range keys[start : start+loadBatch] {
			saveScript.Run(ctx, pipe, []string{s.tokKey(k)}, 0, mustJSON(b, tok), s.channel(k))
		}
		if _, err := pipe.Exec(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		got, err := s.LoadMany(ctx, keys)
		if err != nil {
			b.Fatal(err)
		}
		if len(got) != n {
			b.Fatalf("loaded %d of %d", len(got), n)
		}
	}
	reportTokens(b, b.N*n)
}

func mustJSON(tb testing.TB, tok *shoptoken.Token) []byte {
	tb.Helper()
	data, err := json.Marshal((*plainToken)(tok))
	if err != nil {
		tb.Fatal(err)
	}
	return data
}
