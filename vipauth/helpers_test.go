package vipauth_test

import (
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/testkit"
	"github.com/shoptoken/shoptoken/shoptokentest"
	"github.com/shoptoken/shoptoken/vipauth"
)

// Distinctive secrets of 40-odd characters: none of their 8-character pieces occurs in ordinary
// text, so finding one in an output means a secret leaked.
const (
	testSecret = "Qz7SECRETvB2Lp9Zr4Wt6Yk8Nm3Hc5Jd1Fg0Ss2xR"
	testCode   = "Kw3CODEuE8Ty1Mv6Rb0Xn4Gh7Pq2Dz9Fj5La8Cs1W"
	testToken  = "Vx5TOKENyH2Ba7Ne3Ui9Ko1Lm4Pj8Qr6Sw0Tz2yM"
)

var testSecrets = []string{testSecret, testCode, testToken}

const (
	tokenURL     = vipauth.DefaultBaseURL + "/token"
	tokenInfoURL = vipauth.DefaultBaseURL + "/token_info"
	revokeURL    = vipauth.DefaultBaseURL + "/revoke_token"
	callbackURL  = "https://isv.example.com/vip/callback"
)

// fixture returns testdata/name (testkit.Fixture).
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	return testkit.Fixture(t, name)
}

// mockConfig returns a Config whose requests go to a fresh httpmock transport (never the global
// one) at the default base URL.
func mockConfig(t testing.TB) (vipauth.Config, *httpmock.MockTransport) {
	t.Helper()
	mock := httpmock.NewMockTransport()
	return vipauth.Config{
		ClientID:     "0123456789",
		ClientSecret: testSecret,
		RedirectURL:  callbackURL,
		HTTPClient:   &http.Client{Transport: mock},
	}, mock
}

// emulatorConfig returns a Config against a fresh VipAuth emulator.
func emulatorConfig(t testing.TB, opts ...shoptokentest.Option) (vipauth.Config, *shoptokentest.VipAuth) {
	t.Helper()
	emu := shoptokentest.NewVipAuth(opts...)
	t.Cleanup(emu.Close)
	return vipauth.Config{
		ClientID:     "id",
		ClientSecret: "secret",
		RedirectURL:  callbackURL,
		BaseURL:      emu.OAuthURL,
		HTTPClient:   emu.Client(),
	}, emu
}

// jsonResponder answers status with body as application/json.
func jsonResponder(status int, body []byte) httpmock.Responder {
	return func(*http.Request) (*http.Response, error) {
		resp := httpmock.NewBytesResponse(status, body)
		resp.Header.Set("Content-Type", "application/json;charset=UTF-8")
		return resp, nil
	}
}

// debugLogger is testkit.Logger: JSON at Debug level into a locked buffer.
func debugLogger() (*slog.Logger, *testkit.LogBuffer) { return testkit.Logger() }

// assertNoSecret fails if any 8-character piece of a secret (testSecrets when none are given)
// appears in out (testkit.NoSecret).
func assertNoSecret(t testing.TB, what, out string, secrets ...string) {
	t.Helper()
	if len(secrets) == 0 {
		secrets = testSecrets
	}
	testkit.NoSecret(t, what, secrets, out)
}

// assertErrorClean checks every printed form of err for secrets (testkit.ErrorTexts).
func assertErrorClean(t testing.TB, err error, secrets ...string) {
	t.Helper()
	if len(secrets) == 0 {
		secrets = testSecrets
	}
	testkit.NoSecret(t, "error", secrets, testkit.ErrorTexts(err)...)
}

// requirePlatformError checks that err is a *shoptoken.Error of this package with kind.
func requirePlatformError(t testing.TB, err error, kind error) *shoptoken.Error {
	t.Helper()
	require.Error(t, err)
	require.ErrorIs(t, err, kind, "got %v", err)
	var e *shoptoken.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, "vipauth", e.Platform)
	return e
}

// mustClient is NewClient for a Config the test knows to be valid.
func mustClient(t testing.TB, cfg vipauth.Config, src shoptoken.TokenSource) *vipauth.Client {
	t.Helper()
	cl, err := vipauth.NewClient(cfg, src)
	require.NoError(t, err)
	return cl
}

// fmtAll prints v with every fmt verb and both slog handlers (testkit.Printed).
func fmtAll(v any) string {
	return strings.Join(testkit.Printed(v), "|")
}
