package veapi

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/shoptokentest"
)

const (
	mockBase   = "http://veapi.test"
	refreshURL = mockBase + refreshPath

	// Distinctive 40-character secrets: the leak checks search every output for them.
	testVEKey   = "VEKEYs3cretVEKEYs3cretVEKEYs3cretVEKEY40"
	testRefresh = "RTOKENs3cretRTOKENs3cretRTOKENs3cretRT40"

	// The tokens in the fixtures (the seed's example answer).
	fixtureAccess  = "2F5A520D99AA3E70C37058A00C4B6F864BDC6704"
	fixtureRefresh = "70D016791459CADBF0DC3ADB37B0FDF9236E16B4"
)

// seedNow is the create_at of the seed's example answer: fixtures are read as of that moment.
var seedNow = time.UnixMilli(1673427493000)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

// mockConfig returns a Config whose requests go to a fresh per-test mock transport.
func mockConfig(mock *httpmock.MockTransport, log *slog.Logger) Config {
	return Config{
		VEKey:      testVEKey,
		BaseURL:    mockBase,
		HTTPClient: &http.Client{Transport: mock},
		Logger:     log,
		now:        func() time.Time { return seedNow },
	}
}

// logBuffer is a concurrency-safe buffer for a JSON slog handler at Debug level.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newLogger() (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

// assertNoSecret fails if any of secrets shows in any of the texts.
func assertNoSecret(t *testing.T, secrets []string, texts ...string) {
	t.Helper()
	for _, s := range secrets {
		if len(s) < 8 {
			continue
		}
		for _, txt := range texts {
			assert.NotContains(t, txt, s, "secret %s… leaked", s[:4])
		}
	}
}

// errTexts returns what an error shows in the usual formats.
func errTexts(err error) []string {
	if err == nil {
		return nil
	}
	return []string{err.Error(), fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err), fmt.Sprintf("%q", err)}
}

// tokTexts returns what a token shows in the usual formats.
func tokTexts(tok *shoptoken.Token) []string {
	if tok == nil {
		return nil
	}
	return []string{tok.String(), fmt.Sprintf("%v", tok), fmt.Sprintf("%+v", tok), fmt.Sprintf("%#v", *tok), fmt.Sprint(*tok)}
}

// newEmu starts a veapi emulator that the test closes.
func newEmu(t testing.TB, opts ...shoptokentest.Option) *shoptokentest.Veapi {
	t.Helper()
	v := shoptokentest.NewVeapi(opts...)
	t.Cleanup(v.Close)
	return v
}

func emuConfig(v *shoptokentest.Veapi) Config {
	return Config{VEKey: "vekey", BaseURL: v.URL, HTTPClient: v.Client()}
}

// contains reports whether err's text contains s, for messages in table tests.
func contains(err error, s string) bool { return err != nil && strings.Contains(err.Error(), s) }

// newClient is NewClient for a Config the test knows to be valid.
func newClient(t testing.TB, c Config, src *shoptoken.Cache, base *http.Client) *http.Client {
	t.Helper()
	hc, err := NewClient(c, src, base)
	require.NoError(t, err)
	return hc
}
