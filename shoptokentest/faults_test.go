package shoptokentest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken/shoptokentest"
)

// emulator is what the four emulators have in common.
type emulator interface {
	Close()
	Client() *http.Client
	Stats() shoptokentest.Stats
	ResetStats()
	FailNext(shoptokentest.Fault, int)
	FailAPI(shoptokentest.Fault, int)
	ExpireNow()
	Valid(string) bool
}

// harness drives one emulator through plain HTTP.
type harness struct {
	e     emulator
	fetch func(ctx context.Context) (*http.Response, error) // one token request (POST)
	token func(body []byte) string                          // the access token of a good answer
	call  func(ctx context.Context, tok string) (*http.Response, error)
	kills bool                                 // a fetch kills the previous access token
	swaps func(t *testing.T, m map[string]any) // checks a FaultWrongTypes token answer
}

// post sends a POST; an empty ctype sends no Content-Type.
func post(ctx context.Context, c *http.Client, u, ctype, body string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	return c.Do(req)
}

const formType = "application/x-www-form-urlencoded"

// multipartForm encodes form as multipart/form-data and returns its Content-Type and body.
func multipartForm(form url.Values) (ctype, body string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, vs := range form {
		for _, v := range vs {
			_ = mw.WriteField(k, v)
		}
	}
	_ = mw.Close()
	return mw.FormDataContentType(), buf.String()
}

var platforms = map[string]func(opts ...shoptokentest.Option) *harness{
	"youzan": func(opts ...shoptokentest.Option) *harness {
		y := shoptokentest.NewYouzan(opts...)
		return &harness{
			e: y,
			fetch: func(ctx context.Context) (*http.Response, error) {
				return post(ctx, y.Client(), y.URL+"/auth/token", "application/json", silent("88888", "true"))
			},
			token: func(b []byte) string {
				var m struct {
					Data struct {
						AccessToken string `json:"access_token"`
					}
				}
				_ = json.Unmarshal(b, &m)
				return m.Data.AccessToken
			},
			call: func(ctx context.Context, tok string) (*http.Response, error) {
				return post(ctx, y.Client(), y.URL+"/api/youzan.shop.get/3.0.0?access_token="+tok, "application/json", "{}")
			},
			kills: true,
			swaps: func(t *testing.T, m map[string]any) {
				assert.Equal(t, "true", m["success"])
				assert.Equal(t, "200", m["code"])
				d := sub(t, m, "data")
				assert.IsType(t, "", d["expires"])
				assert.Equal(t, json.Number("88888"), d["authority_id"])
			},
		}
	},
	"vvtool": func(opts ...shoptokentest.Option) *harness {
		v := shoptokentest.NewVVTool(opts...)
		return &harness{
			e: v,
			fetch: func(ctx context.Context) (*http.Response, error) {
				ctype, body := multipartForm(vvCreds)
				return post(ctx, v.Client(), v.URL+"/oauth/token", ctype, body)
			},
			token: func(b []byte) string {
				var m struct {
					AccessToken string `json:"access_token"`
				}
				_ = json.Unmarshal(b, &m)
				return m.AccessToken
			},
			call: func(ctx context.Context, tok string) (*http.Response, error) {
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, v.URL+"/tool/members/info", nil)
				if err != nil {
					return nil, err
				}
				req.Header.Set("Authorization", "Bearer "+tok)
				return v.Client().Do(req)
			},
			kills: true,
			swaps: func(t *testing.T, m map[string]any) {
				assert.IsType(t, "", m["expires_in"])
				assert.Equal(t, "Bearer", m["token_type"])
			},
		}
	},
	"vipauth": func(opts ...shoptokentest.Option) *harness {
		v := shoptokentest.NewVipAuth(opts...)
		return &harness{
			e: v,
			fetch: func(ctx context.Context) (*http.Response, error) {
				return post(ctx, v.Client(), v.OAuthURL+"/token?"+exchangeForm(v.NewCode("U", cb), cb).Encode(), "", "")
			},
			token: func(b []byte) string {
				var m struct {
					AccessToken string `json:"access_token"`
				}
				_ = json.Unmarshal(b, &m)
				return m.AccessToken
			},
			call: func(ctx context.Context, tok string) (*http.Response, error) {
				return post(ctx, v.Client(), v.URL+"/api/account/info?access_token="+tok, "", "")
			},
			kills: false,
			swaps: func(t *testing.T, m map[string]any) {
				assert.IsType(t, "", m["expires_in"])
			},
		}
	},
	"veapi": func(opts ...shoptokentest.Option) *harness {
		v := shoptokentest.NewVeapi(opts...)
		rt := v.NewGrant("u")
		h := &harness{e: v, kills: true}
		h.fetch = func(ctx context.Context) (*http.Response, error) {
			return post(ctx, v.Client(), v.URL+"/vip/refreshtoken", formType, url.Values{"vekey": {"vekey"}, "refresh_token": {rt}}.Encode())
		}
		h.token = func(b []byte) string {
			var m struct {
				Data struct {
					AccessToken  string `json:"access_token"`
					RefreshToken string `json:"refresh_token"`
				}
			}
			_ = json.Unmarshal(b, &m)
			if m.Data.RefreshToken != "" {
				rt = m.Data.RefreshToken
			}
			return m.Data.AccessToken
		}
		h.call = func(ctx context.Context, tok string) (*http.Response, error) {
			return post(ctx, v.Client(), v.URL+"/vip/api", formType, "vekey=vekey&sessionkey="+tok)
		}
		h.swaps = func(t *testing.T, m map[string]any) {
			assert.Equal(t, json.Number("0"), m["error"])
			d := sub(t, m, "data")
			assert.IsType(t, "", d["expires_in"])
			assert.Equal(t, "false", d["is_expired"])
		}
		return h
	},
}

func read(t *testing.T, resp *http.Response) reply {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return reply{status: resp.StatusCode, ctype: resp.Header.Get("Content-Type"), body: b, header: resp.Header}
}

// goodToken fetches normally and returns the access token.
func (h *harness) goodToken(t *testing.T) string {
	t.Helper()
	resp, err := h.fetch(context.Background())
	require.NoError(t, err)
	r := read(t, resp)
	require.Equal(t, 200, r.status)
	tok := h.token(r.body)
	require.NotEmpty(t, tok, "body: %s", r.body)
	return tok
}

var allFaults = []shoptokentest.Fault{
	shoptokentest.FaultUnavailable, shoptokentest.FaultHTML, shoptokentest.FaultHTML200,
	shoptokentest.FaultTruncated, shoptokentest.FaultWrongTypes, shoptokentest.FaultDrop, shoptokentest.FaultSlow,
}

// checkDamaged checks the outcome of a request damaged by f.
func checkDamaged(t *testing.T, f shoptokentest.Fault, resp *http.Response, err error, elapsed time.Duration) {
	t.Helper()
	switch f {
	case shoptokentest.FaultDrop:
		require.Error(t, err)
		return
	case shoptokentest.FaultSlow:
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Less(t, elapsed, 5*time.Second)
		return
	}
	require.NoError(t, err)
	r := read(t, resp)
	switch f {
	case shoptokentest.FaultUnavailable:
		assert.Equal(t, http.StatusServiceUnavailable, r.status)
		assert.Equal(t, "Service Unavailable", string(r.body))
	case shoptokentest.FaultHTML:
		assert.Equal(t, http.StatusBadGateway, r.status)
		assert.Contains(t, r.ctype, "text/html")
		assert.Contains(t, string(r.body), "<center>nginx</center>")
	case shoptokentest.FaultHTML200:
		assert.Equal(t, http.StatusOK, r.status)
		assert.Contains(t, r.ctype, "text/html")
		assert.True(t, strings.HasPrefix(string(r.body), "<!DOCTYPE html>"))
	case shoptokentest.FaultTruncated:
		assert.Equal(t, http.StatusOK, r.status)
		assert.NotEmpty(t, r.body)
		assert.False(t, json.Valid(r.body), "body: %s", r.body)
	case shoptokentest.FaultWrongTypes:
		assert.Equal(t, http.StatusOK, r.status)
		assert.True(t, json.Valid(r.body), "body: %s", r.body)
	}
}

func issues(f shoptokentest.Fault) bool {
	switch f {
	case shoptokentest.FaultTruncated, shoptokentest.FaultWrongTypes, shoptokentest.FaultDrop:
		return true
	}
	return false
}

func TestFailNext_everyFault(t *testing.T) {
	t.Parallel()
	for name, start := range platforms {
		for _, f := range allFaults {
			t.Run(name+"/"+f.String(), func(t *testing.T) {
				t.Parallel()
				h := start()
				defer h.e.Close()
				old := h.goodToken(t)

				h.e.FailNext(f, 1)
				ctx := ctxTimeout(t, 5*time.Second)
				if f == shoptokentest.FaultSlow {
					ctx = ctxTimeout(t, 150*time.Millisecond)
				}
				begin := time.Now()
				resp, err := h.fetch(ctx)
				elapsed := time.Since(begin)
				if f == shoptokentest.FaultWrongTypes {
					require.NoError(t, err)
					r := read(t, resp)
					h.swaps(t, r.obj(t))
				} else {
					checkDamaged(t, f, resp, err, elapsed)
				}

				st := h.e.Stats()
				assert.Equal(t, 2, st.TokenRequests)
				assert.Equal(t, 1, st.Faults)
				assert.Equal(t, 0, st.Errors, "faults are not platform errors")
				if issues(f) {
					assert.Equal(t, 2, st.Issued, "the token IS issued")
					if h.kills {
						assert.False(t, h.e.Valid(old), "and the old one killed")
					}
				} else {
					assert.Equal(t, 1, st.Issued, "nothing issued")
					assert.True(t, h.e.Valid(old))
				}

				// The fault is used up: the next request reaches the platform logic.
				resp, err = h.fetch(context.Background())
				require.NoError(t, err)
				r := read(t, resp)
				assert.Equal(t, 200, r.status)
				assert.True(t, json.Valid(r.body), "body: %s", r.body)
				assert.Equal(t, 1, h.e.Stats().Faults)
			})
		}
	}
}

func TestFailAPI_everyFault(t *testing.T) {
	t.Parallel()
	for name, start := range platforms {
		for _, f := range allFaults {
			t.Run(name+"/"+f.String(), func(t *testing.T) {
				t.Parallel()
				h := start()
				defer h.e.Close()
				tok := h.goodToken(t)

				h.e.FailAPI(f, 1)
				ctx := ctxTimeout(t, 5*time.Second)
				if f == shoptokentest.FaultSlow {
					ctx = ctxTimeout(t, 150*time.Millisecond)
				}
				begin := time.Now()
				resp, err := h.call(ctx, tok)
				checkDamaged(t, f, resp, err, time.Since(begin))

				resp, err = h.call(context.Background(), tok)
				require.NoError(t, err)
				r := read(t, resp)
				assert.Equal(t, 200, r.status, "body: %s", r.body)
				assert.True(t, json.Valid(r.body))

				st := h.e.Stats()
				assert.Equal(t, 1, st.TokenRequests)
				assert.Equal(t, 2, st.APICalls)
				assert.Equal(t, 0, st.Rejected)
				assert.Equal(t, 1, st.Faults)
				assert.True(t, h.e.Valid(tok))
			})
		}
	}
}

func TestFailNext_queue(t *testing.T) {
	t.Parallel()
	h := platforms["vvtool"]()
	defer h.e.Close()

	h.e.FailNext(shoptokentest.FaultUnavailable, 2)
	h.e.FailNext(shoptokentest.FaultNone, 1)
	h.e.FailNext(shoptokentest.FaultHTML, 1)
	var got []int
	for range 5 {
		resp, err := h.fetch(context.Background())
		require.NoError(t, err)
		got = append(got, read(t, resp).status)
	}
	assert.Equal(t, []int{503, 503, 200, 502, 200}, got)
	st := h.e.Stats()
	assert.Equal(t, 3, st.Faults)
	assert.Equal(t, 2, st.Issued)

	h.e.FailNext(shoptokentest.FaultUnavailable, 3)
	h.e.FailNext(shoptokentest.FaultUnavailable, 0) // clears
	h.e.ResetStats()
	h.goodToken(t)
	assert.Equal(t, shoptokentest.Stats{TokenRequests: 1, Issued: 1}, h.e.Stats())
}

func TestWithLatency(t *testing.T) {
	t.Parallel()
	for name, start := range platforms {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			// Generous: the server must notice the client leaving well within the latency,
			// even on a loaded machine.
			const latency = 400 * time.Millisecond
			h := start(shoptokentest.WithLatency(latency))
			defer h.e.Close()

			begin := time.Now()
			h.goodToken(t)
			assert.GreaterOrEqual(t, time.Since(begin), latency)

			// A caller that gives up during the wait gets nothing, and nothing is issued.
			begin = time.Now()
			_, err := h.fetch(ctxTimeout(t, 50*time.Millisecond))
			require.ErrorIs(t, err, context.DeadlineExceeded)
			require.Eventually(t, func() bool { return h.e.Stats().TokenRequests == 2 }, 2*time.Second, 5*time.Millisecond)
			time.Sleep(latency + 100*time.Millisecond - time.Since(begin)) // the handler would have issued by now
			assert.Equal(t, 1, h.e.Stats().Issued)
		})
	}
}

func TestClose_endsSlowAnswers(t *testing.T) {
	t.Parallel()
	for name, slow := range map[string]func() *harness{
		"FaultSlow": func() *harness {
			h := platforms["youzan"]()
			h.e.FailNext(shoptokentest.FaultSlow, 1)
			return h
		},
		"WithLatency": func() *harness { return platforms["youzan"](shoptokentest.WithLatency(time.Minute)) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := slow()
			errc := make(chan error, 1)
			go func() {
				resp, err := h.fetch(context.Background())
				if err == nil {
					resp.Body.Close()
				}
				errc <- err
			}()
			require.Eventually(t, func() bool { return h.e.Stats().TokenRequests == 1 }, 2*time.Second, 5*time.Millisecond)
			begin := time.Now()
			h.e.Close()
			h.e.Close() // twice is fine
			assert.Less(t, time.Since(begin), 2*time.Second)
			select {
			case err := <-errc:
				assert.Error(t, err, "the connection is closed: no answer, not an empty HTTP 200")
			case <-time.After(2 * time.Second):
				t.Fatal("the slow request did not end")
			}
			assert.Equal(t, 0, h.e.Stats().Issued)
		})
	}
}

func TestFault_String(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "FaultDrop", shoptokentest.FaultDrop.String())
	assert.Equal(t, "FaultNone", shoptokentest.FaultNone.String())
	assert.Equal(t, "Fault(42)", shoptokentest.Fault(42).String())
}
