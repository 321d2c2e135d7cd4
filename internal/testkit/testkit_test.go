package testkit

import (
	"testing"
)

type fakeTB struct {
	testing.TB
	failed []string
}

func (f *fakeTB) Helper()                           {}
func (f *fakeTB) Errorf(format string, args ...any) { f.failed = append(f.failed, format) }

func TestNoSecret_findsAnyEightBytePiece(t *testing.T) {
	secret := "AT4m8Kp2Wx6Rz0Qv5Nj9Lb3Hc7Gd1Fs4Ey8Tu2Io"
	for _, tc := range []struct {
		out  string
		leak bool
	}{
		{"token AT4m…(40)", false},
		{"token AT4m8Kp2", true},          // the first eight
		{"tail Fs4Ey8Tu2Io", true},        // the last eight
		{"middle ..Nj9Lb3Hc..", true},     // from the middle
		{"seven Nj9Lb3H and more", false}, // seven is not a piece
		{"", false},
	} {
		f := &fakeTB{}
		NoSecret(f, "out", []string{secret}, tc.out)
		if got := len(f.failed) > 0; got != tc.leak {
			t.Errorf("NoSecret(%q) failed=%v, want %v", tc.out, got, tc.leak)
		}
	}
}

func TestRecorder_countsFromManyGoroutines(t *testing.T) {
	var r Recorder[int]
	done := make(chan struct{})
	for i := range 50 {
		go func() { r.Record(i); done <- struct{}{} }()
	}
	for range 50 {
		<-done
	}
	if r.Len() != 50 || r.Count(func(v int) bool { return v%2 == 0 }) != 25 {
		t.Fatalf("recorded %d, even %d", r.Len(), r.Count(func(v int) bool { return v%2 == 0 }))
	}
}

type leaky struct{ S string }

func TestPrinted_coversVerbsAndSlog(t *testing.T) {
	out := Printed(leaky{S: "0123456789abcdef"})
	if len(out) != 9 {
		t.Fatalf("got %d outputs", len(out))
	}
	for i, o := range out {
		if Leak(o, "0123456789abcdef") == "" {
			t.Errorf("output %d does not show the field: %q", i, o)
		}
	}
}
