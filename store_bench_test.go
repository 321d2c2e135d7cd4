package shoptoken

import (
	"context"
	"strconv"
	"testing"
	"time"
)

// BenchmarkMemoryStore_Due: a sweep of 1 000 000 scheduled keys of which 10 are due, the shape of
// a Keeper's sweep over a large fleet.
func BenchmarkMemoryStore_Due(b *testing.B) {
	ctx := context.Background()
	m := NewMemoryStore()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	const keys, due = 1_000_000, 10
	for i := range keys {
		at := now.Add(time.Hour + time.Duration(i)*time.Millisecond)
		if i%(keys/due) == 0 {
			at = now.Add(-time.Duration(i) * time.Millisecond)
		}
		if err := m.Schedule(ctx, "ns", Due{Key: "shop:" + strconv.Itoa(i), At: at}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		got, err := m.Due(ctx, "ns", now, 100)
		if err != nil || len(got) != due {
			b.Fatalf("due: %d keys, %v", len(got), err)
		}
	}
}
