package veapi

import (
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/testkit"
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

// testApp is the veapi account name of the tests' Configs; testKey is the store key of shop-1's
// token under it.
const (
	testApp = "acct"
	testKey = "veapi/" + testApp + "/shop-1"
)

// fixture is testkit.Fixture.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	return testkit.Fixture(t, name)
}

// mockConfig returns a Config whose requests go to a fresh per-test mock transport.
func mockConfig(mock *httpmock.MockTransport, log *slog.Logger) Config {
	return Config{
		VEKey:      testVEKey,
		App:        testApp,
		BaseURL:    mockBase,
		HTTPClient: &http.Client{Transport: mock},
		Logger:     log,
		Clock:      shoptokentest.NewClock(seedNow), // never advanced
	}
}

// newLogger is testkit.Logger: JSON at Debug level into a locked buffer.
func newLogger() (*slog.Logger, *testkit.LogBuffer) { return testkit.Logger() }

// assertNoSecret fails if any 8-character piece of any of secrets shows in any of the texts
// (testkit.NoSecret).
func assertNoSecret(t *testing.T, secrets []string, texts ...string) {
	t.Helper()
	testkit.NoSecret(t, "output", secrets, texts...)
}

// errTexts returns what an error shows (testkit.ErrorTexts).
func errTexts(err error) []string { return testkit.ErrorTexts(err) }

// tokTexts returns what a token shows in every fmt verb and slog (testkit.Printed).
func tokTexts(tok *shoptoken.Token) []string {
	if tok == nil {
		return nil
	}
	return append(testkit.Printed(tok), testkit.Printed(*tok)...)
}

// newEmu starts a veapi emulator that the test closes.
func newEmu(t testing.TB, opts ...shoptokentest.Option) *shoptokentest.Veapi {
	t.Helper()
	v := shoptokentest.NewVeapi(opts...)
	t.Cleanup(v.Close)
	return v
}

func emuConfig(v *shoptokentest.Veapi) Config {
	return Config{VEKey: "vekey", App: testApp, BaseURL: v.URL, HTTPClient: v.Client()}
}

// contains reports whether err's text contains s, for messages in table tests.
func contains(err error, s string) bool { return err != nil && strings.Contains(err.Error(), s) }

// mustClient is NewClient for a Config the test knows to be valid.
func mustClient(t testing.TB, c Config, src shoptoken.TokenSource) *Client {
	t.Helper()
	cl, err := NewClient(c, src)
	require.NoError(t, err)
	return cl
}
