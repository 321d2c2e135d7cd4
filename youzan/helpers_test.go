package youzan_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken/youzan"
)

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

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
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
		GrantID:      "42587152",
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

// logBuffer is a JSON slog handler at Debug level writing to a buffer.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func newLogger() (*slog.Logger, *logBuffer) {
	lb := &logBuffer{}
	return slog.New(slog.NewJSONHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug})), lb
}

// requireNoSecret fails if any of the secrets appears whole in s.
func requireNoSecret(t testing.TB, s string, secrets ...string) {
	t.Helper()
	if len(secrets) == 0 {
		secrets = allSecrets
	}
	for _, sec := range secrets {
		require.NotContains(t, s, sec)
	}
}

// errText is everything an error shows: Error(), %v, %+v and %#v.
func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error() + "\n" + fmt.Sprintf("%v\n%+v\n%#v", err, err, err)
}
