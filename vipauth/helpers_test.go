package vipauth_test

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

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
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

// fixture returns testdata/name.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
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

// logBuffer is a goroutine-safe buffer for a JSON slog handler.
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

func debugLogger() (*slog.Logger, *logBuffer) {
	var b logBuffer
	return slog.New(slog.NewJSONHandler(&b, &slog.HandlerOptions{Level: slog.LevelDebug})), &b
}

// assertNoSecret fails if any 8-character piece of a secret appears in out.
func assertNoSecret(t testing.TB, what, out string, secrets ...string) {
	t.Helper()
	if len(secrets) == 0 {
		secrets = testSecrets
	}
	for _, s := range secrets {
		for i := 0; i+8 <= len(s); i++ {
			if strings.Contains(out, s[i:i+8]) {
				assert.Failf(t, "secret leaked", "%s shows %q (part of a secret): %s", what, s[i:i+8], out)
				return
			}
		}
	}
}

// assertErrorClean checks every printed form of err for secrets.
func assertErrorClean(t testing.TB, err error, secrets ...string) {
	t.Helper()
	if err == nil {
		return
	}
	assertNoSecret(t, "err.Error()", err.Error(), secrets...)
	assertNoSecret(t, "%+v", fmtAll(err), secrets...)
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

// fmtAll prints v with every common verb.
func fmtAll(v any) string {
	return fmt.Sprintf("%v|%+v|%#v|%s|%q", v, v, v, v, v)
}
