package testkit

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
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

// TestStartChild: a child runs only the test it was started for, sees the environment it was
// given, and its exit status and output reach the parent.
func TestStartChild(t *testing.T) {
	ok := StartChild(t, "ok", "TestChildHelper", "TESTKIT_CHILD=ok")
	bad := StartChild(t, "bad", "TestChildHelper", "TESTKIT_CHILD=bad")
	WaitChildren(t, 30*time.Second, ok)
	<-bad.Done()
	if bad.Err() == nil || !strings.Contains(bad.Output(), "child says no") {
		t.Errorf("bad child: %v, output %q", bad.Err(), bad.Output())
	}
	stuck := StartChild(t, "stuck", "TestChildHelper", "TESTKIT_CHILD=stuck")
	if stuck.Exited() || stuck.Err() != nil {
		t.Fatal("stuck child exited at once")
	}
	stuck.Kill()
	if !stuck.Exited() || stuck.Err() == nil {
		t.Errorf("killed child: exited %v, %v", stuck.Exited(), stuck.Err())
	}
	n := 0
	WaitFor(t, 5*time.Second, "three calls", func() (bool, string) { n++; return n == 3, "" })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if Sleep(ctx, time.Hour) {
		t.Error("Sleep slept through a cancelled context")
	}
}

// TestChildHelper is the body of TestStartChild's children.
func TestChildHelper(t *testing.T) {
	switch os.Getenv("TESTKIT_CHILD") {
	case "ok":
		os.Exit(0)
	case "bad":
		fmt.Fprintln(os.Stderr, "child says no")
		os.Exit(3)
	case "stuck":
		time.Sleep(time.Minute)
	}
}
