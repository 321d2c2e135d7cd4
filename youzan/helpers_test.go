package youzan_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/testkit"
	"github.com/shoptoken/shoptoken/youzan"
)

// grant is the kdt_id of the shop most tests use.
const grant = "42587152"

// mustClient is youzan.NewClient for a Config and source the test knows to be good.
func mustClient(t testing.TB, c youzan.Config, src shoptoken.TokenSource) *youzan.Client {
	t.Helper()
	cl, err := youzan.NewClient(c, src)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return cl
}

// mockBase is the BaseURL of httpmock-served tests.
const mockBase = "https://yz.test"

const (
	tokenURL = mockBase + "/auth/token"
	shopURL  = mockBase + "/api/youzan.shop.get/3.0.0"
)

// Distinctive 40-character secrets: none may ever show up whole in an error, a log or fmt output.
const (
	secretClient  = "CS9x2Lq7Vw3Zr8Tn4Pk6Hj1Md5Fg0Bs7Ya2Ue9Qz" // client_secret
	secretAccess  = "AT4m8Kp2Wx6Rz0Qv5Nj9Lb3Hc7Gd1Fs4Ey8Tu2Io" // access token
	secretAccess2 = "AT7b1Ns5Xq9Mv3Pz8Kr2Lw6Jh0Gf4Dc7Sa1Ey5Uo" // the next access token
	secretRefresh = "RT2q6Wm0Xz4Nv8Pb3Kj7Lr1Hc5Gs9Fd2Ea6Ty0Ui" // refresh token
	secretCode    = "CD8w3Qn7Xm1Zv5Pk9Rj4Lb0Hs6Gd2Fc8Ea3Ty7Ux" // authorization code
)

var allSecrets = []string{secretClient, secretAccess, secretAccess2, secretRefresh, secretCode}

// fixture is testkit.Fixture.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	return testkit.Fixture(t, name)
}

// tokenAnswer is a success answer of /auth/token in the platform's shape.
func tokenAnswer(access, refresh string, expires time.Time) []byte {
	return fmt.Appendf(nil, `{"success":true,"code":200,"data":{"expires":%d,"scope":"shop trade item","access_token":%q,"authority_id":"42587152","refresh_token":%q},"message":null}`,
		expires.UnixMilli(), access, refresh)
}

// mockConfig returns a Config whose requests go to a fresh per-test mock transport.
func mockConfig(t testing.TB) (youzan.Config, *httpmock.MockTransport) {
	t.Helper()
	mock := httpmock.NewMockTransport()
	return youzan.Config{
		ClientID:     "id",
		ClientSecret: secretClient,
		BaseURL:      mockBase,
		HTTPClient:   &http.Client{Transport: mock},
	}, mock
}

// recorder remembers the JSON bodies sent to a mock endpoint and answers from a list.
type recorder struct {
	mu      sync.Mutex
	bodies  []map[string]any
	raw     []string
	ctypes  []string
	queries []string
	answers [][]byte // answer i for request i; the last one repeats
	status  int
}

func newRecorder(answers ...[]byte) *recorder { return &recorder{answers: answers, status: 200} }

func (r *recorder) respond(req *http.Request) (*http.Response, error) {
	body, _ := io.ReadAll(req.Body)
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	_ = dec.Decode(&m)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.bodies = append(r.bodies, m)
	r.raw = append(r.raw, string(body))
	r.ctypes = append(r.ctypes, req.Header.Get("Content-Type"))
	r.queries = append(r.queries, req.URL.RawQuery)
	i := min(len(r.bodies)-1, len(r.answers)-1)
	resp := httpmock.NewBytesResponse(r.status, r.answers[i])
	resp.Header.Set("Content-Type", "application/json;charset=UTF-8")
	return resp, nil
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.bodies)
}

func (r *recorder) refreshFlags() []any {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []any
	for _, b := range r.bodies {
		out = append(out, b["refresh"])
	}
	return out
}

// newLogger is testkit.Logger: JSON at Debug level into a locked buffer.
func newLogger() (*slog.Logger, *testkit.LogBuffer) { return testkit.Logger() }

// requireNoSecret fails the test at once if any 8-character piece of any of the secrets (all of
// allSecrets when none are given) appears in s (testkit.Leak).
func requireNoSecret(t testing.TB, s string, secrets ...string) {
	t.Helper()
	if len(secrets) == 0 {
		secrets = allSecrets
	}
	if p := testkit.Leak(s, secrets...); p != "" {
		t.Fatalf("output shows %q, a piece of a secret, in: %s", p, s)
	}
}

// errText is everything an error shows (testkit.ErrorTexts), one rendering per line.
func errText(err error) string {
	return strings.Join(testkit.ErrorTexts(err), "\n")
}
