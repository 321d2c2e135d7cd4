package httpx

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/testkit"
)

// Distinctive 40-character secrets: if any of them shows up in output, something leaked.
const (
	secretAccess  = "ATKNq7Zr2xW9pL4mV8sB1nC6dF3gH5jK0tY2uE7a" // query access_token
	secretClient  = "CSECk3Jd8Hs2Lq9Wz4Xv6Bn1Mp7Rt5Yc0Ue3Ia8o" // form/JSON client_secret
	secretRefresh = "RTKNm4Nb7Vc2Xz9Lk5Jh1Gf8Ds3Ap6Qw0Er4Ty2u" // form/JSON refresh_token
	secretBearer  = "BEARp1Oi9Uy8Tr7Ee6Ww5Qq4Aa3Ss2Dd1Ff0Gg9h" // Authorization header
	secretVekey   = "VEKYz0Xx9Cc8Vv7Bb6Nn5Mm4Ll3Kk2Jj1Hh0Gg9f" // query vekey, NOT listed in Secrets
)

var listedSecrets = []string{secretAccess, secretClient, secretRefresh, secretBearer}

var allSecrets = append(append([]string(nil), listedSecrets...), secretVekey)

func TestSecrets_are40Chars(t *testing.T) {
	for _, s := range allSecrets {
		require.Len(t, s, 40)
	}
}

// echo returns everything the request carried that could be secret: query, headers and body.
func echo(r *http.Request) string {
	b, _ := io.ReadAll(r.Body)
	return r.URL.RawQuery + " " + r.Header.Get("Authorization") + " " + string(b)
}

func TestClient_Do_noSecretLeak(t *testing.T) {
	scenarios := []struct {
		name    string
		handler func(w http.ResponseWriter, r *http.Request)
		refused bool
		timeout bool
		maxBody int64
		decode  bool // the answer arrives; the error comes from DecodeJSON / StatusError
		kind    error
	}{
		{name: "connection refused", refused: true, kind: shoptoken.ErrUnavailable},
		{
			name:    "timeout",
			timeout: true,
			kind:    shoptoken.ErrUnavailable,
			handler: func(w http.ResponseWriter, r *http.Request) {
				// Read the body first: only then does the server notice the client hanging up.
				_, _ = io.Copy(io.Discard, r.Body)
				select {
				case <-time.After(5 * time.Second):
				case <-r.Context().Done():
				}
			},
		},
		{
			name:   "HTML page",
			decode: true,
			kind:   shoptoken.ErrUnavailable,
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(http.StatusBadGateway)
				_, _ = io.WriteString(w, "<html><head><title>502 Bad Gateway</title></head><body><p>"+
					echo(r)+"</p><a href=\"/retry?"+r.URL.RawQuery+"\">retry</a></body></html>")
			},
		},
		{
			name:   "truncated JSON",
			decode: true,
			kind:   shoptoken.ErrBadResponse,
			handler: func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, `{"access_token":"`+secretAccess+`","echo":"`+
					strings.ReplaceAll(echo(r), `"`, `\"`)+`","refresh_to`)
			},
		},
		{
			name:    "oversize body",
			maxBody: 4096,
			kind:    shoptoken.ErrBadResponse,
			handler: func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, echo(r)+strings.Repeat(" pad", 4096))
			},
		},
	}
	bodies := []struct {
		name  string
		apply func(*Request)
	}{
		{"form", func(r *Request) {
			r.Form = url.Values{"client_secret": {secretClient}, "refresh_token": {secretRefresh}, "grant_type": {"refresh_token"}}
		}},
		{"JSON", func(r *Request) {
			r.JSON = map[string]string{"client_secret": secretClient, "refresh_token": secretRefresh, "authorize_type": "silent"}
		}},
	}
	for _, sc := range scenarios {
		for _, bd := range bodies {
			t.Run(sc.name+"/"+bd.name, func(t *testing.T) {
				t.Parallel()
				base := "http://" + closedAddr(t)
				if !sc.refused {
					srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request, _ int) { sc.handler(w, r) })
					base = srv.URL
				}
				var logs bytes.Buffer
				logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
				c := New(fastConfig(Config{Platform: "veapi", Logger: logger, MaxBody: sc.maxBody}))

				req := Request{
					Op:      "refresh",
					URL:     base + "/vip/refreshtoken?vekey=" + secretVekey + "&access_token=" + secretAccess,
					Header:  http.Header{"Authorization": {"Bearer " + secretBearer}},
					Secrets: listedSecrets,
				}
				bd.apply(&req)
				ctx := context.Background()
				if sc.timeout {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, 150*time.Millisecond)
					defer cancel()
				}

				resp, err := c.Do(ctx, req)
				if sc.decode {
					require.NoError(t, err)
					var out struct {
						AccessToken string `json:"access_token"`
					}
					err = resp.DecodeJSON("veapi", "refresh", &out, req.Secrets...)
					assertNoSecret(t, "Response.Request", resp.Request)
					if serr := resp.StatusError("veapi", "refresh", req.Secrets...); serr != nil {
						assertNoSecretInError(t, serr)
					}
				}
				require.Error(t, err)
				require.ErrorIs(t, err, sc.kind)
				var e *shoptoken.Error
				require.ErrorAs(t, err, &e)
				assert.Equal(t, "veapi", e.Platform)
				assert.Equal(t, "refresh", e.Op)
				assertNoSecretInError(t, err)

				out := logs.String()
				require.NotEmpty(t, out, "every attempt is logged at Debug")
				assert.Contains(t, out, `"attempt":1`)
				assert.Contains(t, out, `"url":"`+base+`/vip/refreshtoken?`)
				assertNoSecret(t, "log", out)
			})
		}
	}
}

// assertNoSecretInError checks every rendering of err and of each error in its chain.
func assertNoSecretInError(t *testing.T, err error) {
	t.Helper()
	testkit.NoSecret(t, "error", allSecrets, testkit.ErrorTexts(err)...)
	for e := err; e != nil; e = errors.Unwrap(e) {
		assertNoSecret(t, "error chain", e.Error())
	}
}

// assertNoSecret fails if any 8-character piece of any secret shows in s (testkit.NoSecret).
func assertNoSecret(t *testing.T, where, s string) {
	t.Helper()
	testkit.NoSecret(t, where, allSecrets, s)
}

func TestClient_Do_logsAttempts(t *testing.T) {
	t.Parallel()
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request, hit int) {
		if hit == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, `{"msg":"busy","access_token":"`+secretAccess+`"}`)
			return
		}
		_, _ = io.WriteString(w, `{"access_token":"`+secretAccess+`"}`)
	})
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := New(fastConfig(Config{Platform: "vipauth", Logger: logger}))
	resp, err := c.Do(context.Background(), Request{
		Op: "token_info", Method: "POST", URL: srv.URL + "/oauth2/token_info?access_token=" + secretAccess, Idempotent: true,
	})
	require.NoError(t, err)
	assert.Equal(t, 200, resp.StatusCode)

	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	require.Len(t, lines, 2)
	assert.Contains(t, lines[0], `"level":"DEBUG"`)
	assert.Contains(t, lines[0], `"platform":"vipauth"`)
	assert.Contains(t, lines[0], `"op":"token_info"`)
	assert.Contains(t, lines[0], `"method":"POST"`)
	assert.Contains(t, lines[0], `"status":503`)
	assert.Contains(t, lines[0], `"attempt":1`)
	assert.Contains(t, lines[0], `"retry":true`)
	assert.Contains(t, lines[0], `"duration":`)
	assert.Contains(t, lines[0], `busy`)
	assert.Contains(t, lines[1], `"status":200`)
	assert.Contains(t, lines[1], `"attempt":2`)
	assert.Contains(t, lines[1], `"retry":false`)
	assertNoSecret(t, "log", logs.String())
}

func TestClient_Do_quietWithoutLogger(t *testing.T) {
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request, _ int) {})
	c := New(fastConfig(Config{}))
	// A nil Logger means no records at all, not slog.Default().
	assert.False(t, c.log.Enabled(context.Background(), slog.LevelError))
	_, err := c.Do(context.Background(), Request{URL: srv.URL})
	require.NoError(t, err)
}
