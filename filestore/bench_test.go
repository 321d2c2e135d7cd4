//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package filestore

import (
	"testing"

	"github.com/shoptoken/shoptoken/internal/storebench"
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

// The benchmarks are storebench's, which redisstore and sqlstore run too.

func BenchmarkLoad(b *testing.B) {
	for _, name := range []string{"plain", "sealed"} {
		b.Run(name, func(b *testing.B) { storebench.Load(b, benchStores(b)[name]) })
	}
}

// BenchmarkSave measures one compare-and-swap write: flock, read, temp file, two fsyncs, rename.
// Its cost is the disk's fsync latency.
func BenchmarkSave(b *testing.B) {
	for _, name := range []string{"plain", "sealed"} {
		b.Run(name, func(b *testing.B) { storebench.Save(b, benchStores(b)[name]) })
	}
}
