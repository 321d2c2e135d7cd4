package seal

import "testing"

func BenchmarkKeyring_Seal(b *testing.B) {
	r := mustNew(b, Key{ID: "2026-12", Secret: secret(b)}, Key{ID: "2026-06", Secret: secret(b)})
	plain := []byte(plainToken)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Seal("youzan/client-1/40000001", plain); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkKeyring_Open(b *testing.B) {
	r := mustNew(b, Key{ID: "2026-12", Secret: secret(b)}, Key{ID: "2026-06", Secret: secret(b)})
	sealed, err := r.Seal("youzan/client-1/40000001", []byte(plainToken))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := r.Open("youzan/client-1/40000001", sealed); err != nil {
			b.Fatal(err)
		}
	}
}
