//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package filestore

import (
	"context"
	"testing"
)

func benchStores(b *testing.B) map[string]*Store {
	stores := map[string]*Store{}
	for name, opts := range map[string][]Option{"plain": nil, "sealed": {WithSeal(testKeyring(b, "b", "a"))}} {
		s, err := New(b.TempDir(), opts...)
		if err != nil {
			b.Fatal(err)
		}
		stores[name] = s
	}
	return stores
}

func BenchmarkLoad(b *testing.B) {
	ctx := context.Background()
	for _, name := range []string{"plain", "sealed"} {
		b.Run(name, func(b *testing.B) {
			s := benchStores(b)[name]
			if _, err := s.Save(ctx, "youzan/88888", fullToken(), 0); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := s.Load(ctx, "youzan/88888"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSave measures one compare-and-swap write: flock, read, temp file, two fsyncs, rename.
// Its cost is the disk's fsync latency.
func BenchmarkSave(b *testing.B) {
	ctx := context.Background()
	for _, name := range []string{"plain", "sealed"} {
		b.Run(name, func(b *testing.B) {
			s := benchStores(b)[name]
			var v int64
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if v, err = s.Save(ctx, "youzan/88888", fullToken(), v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
