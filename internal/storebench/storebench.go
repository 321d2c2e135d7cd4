package storebench

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/shoptoken/shoptoken"
)

// ColdStart is how many tokens a LoadMany benchmark loads: a fleet's cold start.
const ColdStart = 100_000

// Key is the key the single-key benchmarks use.
const Key = "youzan/app/88888"

// Token returns the token the single-key benchmarks save and load: every common field set, an
// expiry in UTC and one extra field.
func Token() *shoptoken.Token {
	return &shoptoken.Token{
		AccessToken:  "at-0123456789abcdef0123456789abcdef",
		RefreshToken: "rt-0123456789abcdef0123456789abcdef",
		TokenType:    "Bearer",
		Expiry:       time.Now().Add(time.Hour).UTC(),
		Subject:      "88888",
		Extra:        map[string]string{"status": "1"},
	}
}

// FleetToken is the i-th token of a fleet: Youzan-sized, as a fleet stores them, with
// 32-character access and refresh tokens, an expiry exp and an issue time a week before it, the
// shop as subject.
func FleetToken(i int, exp time.Time) *shoptoken.Token {
	return &shoptoken.Token{
		AccessToken: fmt.Sprintf("%032x", 7919*i+1), RefreshToken: fmt.Sprintf("%032x", 104729*i+1),
		TokenType: "Bearer", Expiry: exp, IssuedAt: exp.Add(-7 * 24 * time.Hour), Subject: strconv.Itoa(40000000 + i),
	}
}

// FleetKeys returns the keys of n fleet tokens: FleetToken(i, ...) is stored under FleetKeys(n)[i].
func FleetKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = "youzan/client-1/" + strconv.Itoa(40000000+i)
	}
	return keys
}

// FleetExpiry is the expiry of the fleet tokens a benchmark writes: a week from now, in whole
// seconds and UTC, as the platforms' answers give it.
func FleetExpiry() time.Time { return time.Now().Add(7 * 24 * time.Hour).Truncate(time.Second).UTC() }

// ReportTokens reports tokens handled per second of the benchmark's time as "tokens/s".
func ReportTokens(b *testing.B, tokens int) {
	b.ReportMetric(float64(tokens)/b.Elapsed().Seconds(), "tokens/s")
}

// Save measures Save of Token over and over on one key: one compare-and-swap write.
func Save(b *testing.B, s shoptoken.Store) {
	ctx := context.Background()
	tok := Token()
	var v int64
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if v, err = s.Save(ctx, Key, tok, v); err != nil {
			b.Fatal(err)
		}
	}
	ReportTokens(b, b.N)
}

// Load measures Load of one key holding Token.
func Load(b *testing.B, s shoptoken.Store) {
	ctx := context.Background()
	if _, err := s.Save(ctx, Key, Token(), 0); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := s.Load(ctx, Key); err != nil {
			b.Fatal(err)
		}
	}
	ReportTokens(b, b.N)
}

// Lease measures a refresh's lease round trip: TryLockLoad of a free lease (the token read with
// it), then its Unlock.
func Lease(b *testing.B, s interface {
	shoptoken.Store
	shoptoken.LeaseLoader
}) {
	ctx := context.Background()
	if _, err := s.Save(ctx, Key, Token(), 0); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		ll, err := s.TryLockLoad(ctx, Key, 10*time.Second)
		if err != nil || ll.Unlock == nil || ll.LoadErr != nil {
			b.Fatalf("TryLockLoad: lease %v, load %v, error %v", ll.Unlock != nil, ll.LoadErr, err)
		}
		ll.Unlock()
	}
}

// LoadMany measures LoadMany of keys, every one of which must hold a token: a cold start.
func LoadMany(b *testing.B, s shoptoken.BulkLoader, keys []string) {
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		got, err := s.LoadMany(ctx, keys)
		if err != nil {
			b.Fatal(err)
		}
		if len(got) != len(keys) {
			b.Fatalf("loaded %d of %d", len(got), len(keys))
		}
	}
	ReportTokens(b, b.N*len(keys))
}
