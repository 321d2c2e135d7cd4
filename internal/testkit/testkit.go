package testkit

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// LogBuffer is a goroutine-safe buffer for a slog handler.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write implements io.Writer.
func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Reset empties the buffer.
func (b *LogBuffer) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Reset()
}

// Logger returns a JSON logger at Debug level and the buffer it writes to.
func Logger() (*slog.Logger, *LogBuffer) {
	b := &LogBuffer{}
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

// TextLogger returns a text logger at Debug level and the buffer it writes to.
func TextLogger() (*slog.Logger, *LogBuffer) {
	b := &LogBuffer{}
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

// Recorder collects values (events, callback arguments) from any goroutine.
type Recorder[T any] struct {
	mu   sync.Mutex
	list []T
}

// Record appends v. Its method value fits a callback: WithEvents(rec.Record).
func (r *Recorder[T]) Record(v T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.list = append(r.list, v)
}

// All returns a copy of what was recorded, in order.
func (r *Recorder[T]) All() []T {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]T(nil), r.list...)
}

// Len returns how many values were recorded.
func (r *Recorder[T]) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.list)
}

// Count returns how many recorded values match.
func (r *Recorder[T]) Count(match func(T) bool) int {
	n := 0
	for _, v := range r.All() {
		if match(v) {
			n++
		}
	}
	return n
}

// Reset forgets what was recorded.
func (r *Recorder[T]) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.list = nil
}

// Fixture returns the contents of testdata/name, failing the test if it cannot be read.
func Fixture(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatalf("fixture %s: %v", name, err)
	}
	return b
}

// PieceLen is the length of the smallest piece of a secret that must never show: a secret that is
// shown as its first four characters, "…" and its length passes; eight characters of it do not.
const PieceLen = 8

// Leak returns the first PieceLen-byte piece of a secret found in out, or "".
func Leak(out string, secrets ...string) string {
	for _, s := range secrets {
		for i := 0; i+PieceLen <= len(s); i++ {
			if strings.Contains(out, s[i:i+PieceLen]) {
				return s[i : i+PieceLen]
			}
		}
	}
	return ""
}

// NoSecret fails the test if any PieceLen-byte piece of any secret appears in any of outputs.
// what names the outputs in the failure message.
func NoSecret(tb testing.TB, what string, secrets []string, outputs ...string) {
	tb.Helper()
	for _, out := range outputs {
		if p := Leak(out, secrets...); p != "" {
			tb.Errorf("%s shows %q, a piece of a secret, in: %s", what, p, clip(out))
		}
	}
}

// Printed returns v as every fmt verb prints it (%v %+v %#v %s %q) and as slog's JSON and text
// handlers log it: the outputs a no-secret test must look at.
func Printed(v any) []string {
	out := []string{
		fmt.Sprintf("%v", v), fmt.Sprintf("%+v", v), fmt.Sprintf("%#v", v),
		fmt.Sprintf("%s", v), fmt.Sprintf("%q", v), fmt.Sprint(v), fmt.Sprintln(v),
	}
	var jb, tb bytes.Buffer
	slog.New(slog.NewJSONHandler(&jb, nil)).Info("value", "v", v)
	slog.New(slog.NewTextHandler(&tb, nil)).Info("value", "v", v)
	return append(out, jb.String(), tb.String())
}

// ErrorTexts returns what err shows: its Error() and Printed(err); nil for nil.
func ErrorTexts(err error) []string {
	if err == nil {
		return nil
	}
	return append([]string{err.Error()}, Printed(err)...)
}

func clip(s string) string {
	if len(s) > 400 {
		return s[:400] + "…"
	}
	return s
}

// BothLogger returns a Debug-level logger that writes every record twice into one buffer, through
// slog's JSON handler and through its text handler: the two ways a record can reach a log line.
func BothLogger() (*slog.Logger, *LogBuffer) {
	b := &LogBuffer{}
	opts := &slog.HandlerOptions{Level: slog.LevelDebug}
	return slog.New(teeHandler{slog.NewJSONHandler(b, opts), slog.NewTextHandler(b, opts)}), b
}

// teeHandler hands every record to both of its handlers.
type teeHandler [2]slog.Handler

func (h teeHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h[0].Enabled(ctx, l) || h[1].Enabled(ctx, l)
}

func (h teeHandler) Handle(ctx context.Context, r slog.Record) error {
	err := h[0].Handle(ctx, r.Clone())
	if err2 := h[1].Handle(ctx, r.Clone()); err == nil {
		err = err2
	}
	return err
}

func (h teeHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return teeHandler{h[0].WithAttrs(attrs), h[1].WithAttrs(attrs)}
}

func (h teeHandler) WithGroup(name string) slog.Handler {
	return teeHandler{h[0].WithGroup(name), h[1].WithGroup(name)}
}
