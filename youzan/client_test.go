package youzan_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/shoptokentest"
	"github.com/shoptoken/shoptoken/youzan"
)

type shop struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	Logo string `json:"logo"`
}

// mockPlatform serves /auth/token on mock with a new token per call and counts the calls.
type mockPlatform struct {
	tokens atomic.Int64
	mu     sync.Mutex
	issued []string
}

func (p *mockPlatform) token(*http.Request) (*http.Response, error) {
	n := p.tokens.Add(1)
	at := fmt.Sprintf("AT%038d", n)
	p.mu.Lock()
	p.issued = append(p.issued, at)
	p.mu.Unlock()
	return httpmock.NewBytesResponse(200, tokenAnswer(at, fmt.Sprintf("RT%038d", n), time.Now().Add(7*24*time.Hour))), nil
}

func (p *mockPlatform) secrets() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string{secretClient}, p.issued...)
}

// mockClient returns a Client whose token endpoint and API gateway are served by mock.
func mockClient(t *testing.T, opts ...shoptoken.Option) (*youzan.Client, *httpmock.MockTransport, *mockPlatform, youzan.Config) {
	t.Helper()
	cfg, mock := mockConfig(t)
	p := &mockPlatform{}
	mock.RegisterResponder(http.MethodPost, tokenURL, p.token)
	src, err := youzan.NewSource(cfg, grant, append([]shoptoken.Option{shoptoken.WithMinInterval(0)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(src.Close)
	return mustClient(t, cfg, src), mock, p, cfg
}

func TestClient_Call_request(t *testing.T) {
	t.Parallel()
	cl, mock, _, _ := mockClient(t)
	rec := newRecorder(fixture(t, "call_ok.json"))
	mock.RegisterResponder(http.MethodPost, "=~^"+mockBase+`/api/`, rec.respond)
	ctx := context.Background()

	require.NoError(t, cl.Call(ctx, "youzan.shop.get", "3.0.0", nil, nil))
	require.NoError(t, cl.Call(ctx, "youzan.trade.get", "4.0.2", map[string]string{"tid": "E123"}, nil))
	require.NoError(t, cl.Call(ctx, "youzan.trade.get", "4.0.2", json.RawMessage(`{"tid":"E456"}`), nil))
	require.NoError(t, cl.Call(ctx, "youzan.trade.get", "4.0.2", struct {
		Tid string `json:"tid"`
	}{"E789"}, nil))

	require.Equal(t, 4, rec.count())
	assert.Equal(t, []string{"{}", `{"tid":"E123"}`, `{"tid":"E456"}`, `{"tid":"E789"}`}, rec.raw)
	for i, q := range rec.queries {
		v, err := url.ParseQuery(q)
		require.NoError(t, err)
		assert.Equal(t, url.Values{"access_token": {fmt.Sprintf("AT%038d", 1)}}, v, "request %d: the token goes in the query only", i)
		assert.Equal(t, "application/json", rec.ctypes[i])
	}
	assert.Equal(t, 1, mock.GetCallCountInfo()["POST "+tokenURL])
}

func TestClient_Call_fixtures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		fixture   string
		want      error // nil: success
		code      string
		requestID string
		apiCalls  int // 2: rejected, retried once
		tokens    int
	}{
		{"call_ok.json", nil, "", "", 1, 1},
		{"legacy_response.json", nil, "", "", 1, 1},
		{"call_fail.json", shoptoken.ErrBadRequest, "102570020", "yz7-0a0b0c0d-1583720718116-bz", 1, 1},
		{"legacy_error.json", shoptoken.ErrBadRequest, "40010", "", 1, 1},
		{"gw_4001.json", shoptoken.ErrBadRequest, "4001", "yz7-0a0b0c0d-1583720718116-4001", 1, 1},
		{"gw_4005.json", shoptoken.ErrBadRequest, "4005", "yz7-0a0b0c0d-1583720718116-4005", 1, 1},
		{"gw_4007.json", shoptoken.ErrBadRequest, "4007", "yz7-0a0b0c0d-1583720718116-4007", 1, 1},
		{"gw_4007_ip.json", shoptoken.ErrPermission, "4007", "yz7-0a0b0c0d-1583720718116-ip", 1, 1},
		{"gw_4101.json", shoptoken.ErrRateLimited, "4101", "yz7-0a0b0c0d-1583720718116-4101", 1, 1},
		{"gw_4201.json", shoptoken.ErrReauthorize, "4201", "yz7-0a0b0c0d-1583720718116-4201", 2, 2},
		{"gw_4202.json", shoptoken.ErrTokenInvalid, "4202", "yz7-0a0b0c0d-1583720718116-4202", 2, 2},
		{"gw_4203.json", shoptoken.ErrTokenInvalid, "4203", "yz7-0a0b0c0d-1583720718116-4203", 2, 2},
		{"gw_4204.json", shoptoken.ErrPermission, "4204", "yz7-0a0b0c0d-1583720718116-4204", 1, 1},
		{"gw_5001.json", shoptoken.ErrUnavailable, "5001", "yz7-0a0b0c0d-1583720718116-5001", 1, 1},
		{"gw_5002.json", shoptoken.ErrBadRequest, "5002", "yz7-0a0b0c0d-1583720718116-5002", 1, 1},
		{"gw_5003.json", shoptoken.ErrUnavailable, "5003", "yz7-0a0b0c0d-1583720718116-5003", 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			t.Parallel()
			cl, mock, p, _ := mockClient(t)
			mock.RegisterResponder(http.MethodPost, shopURL, httpmock.NewBytesResponder(200, fixture(t, tt.fixture)))
			var out shop
			err := cl.Call(context.Background(), "youzan.shop.get", "3.0.0", nil, &out)
			info := mock.GetCallCountInfo()
			assert.Equal(t, tt.apiCalls, info["POST "+shopURL], "API calls")
			assert.Equal(t, int64(tt.tokens), p.tokens.Load(), "token calls")
			if tt.want == nil {
				require.NoError(t, err)
				assert.Equal(t, shop{ID: 42587152, Name: "有赞测试店铺", Logo: "https://img.yzcdn.cn/logo.png"}, out)
				return
			}
			require.ErrorIs(t, err, tt.want)
			var e *shoptoken.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, "youzan", e.Platform)
			assert.Equal(t, "call", e.Op)
			assert.Equal(t, tt.code, e.Code)
			assert.Equal(t, tt.requestID, e.RequestID)
			assert.NotEmpty(t, e.Message)
			assert.Equal(t, shop{}, out, "out is untouched on failure")
			requireNoSecret(t, errText(err), p.secrets()...)
			_, hasWait := youzan.RetryAfter(err)
			assert.Equal(t, tt.want == shoptoken.ErrRateLimited, hasWait)
		})
	}
}

// TestClient_Call_malformed feeds the gateway's answer every way it can go wrong.
func TestClient_Call_malformed(t *testing.T) {
	t.Parallel()
	huge := append([]byte(`{"success":true,"code":200,"data":{"name":"`), bytes.Repeat([]byte("a"), 16<<20+10)...)
	huge = append(huge, `"}}`...)
	tests := []struct {
		name   string
		status int
		body   []byte
		want   error
	}{
		{"html 502", 502, []byte("<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"), shoptoken.ErrUnavailable},
		{"html 200", 200, []byte("<!DOCTYPE html><html><body>请先登录</body></html>"), shoptoken.ErrBadResponse},
		{"empty 200", 200, nil, shoptoken.ErrBadResponse},
		{"truncated", 200, []byte(`{"trace_id":"t","code":200,"success":true,"data":{"name":"有赞`), shoptoken.ErrBadResponse},
		{"null", 200, []byte("null"), shoptoken.ErrBadResponse},
		{"array", 200, []byte(`[1,2]`), shoptoken.ErrBadResponse},
		{"data of the wrong type", 200, []byte(`{"trace_id":"t","code":200,"success":true,"data":{"id":"not a number","name":7}}`), shoptoken.ErrBadResponse},
		{"data is a string", 200, []byte(`{"trace_id":"t","code":200,"success":true,"data":"shop"}`), shoptoken.ErrBadResponse},
		{"gw_err_resp is a string", 200, []byte(`{"gw_err_resp":"4203"}`), shoptoken.ErrBadResponse},
		{"success is a word", 200, []byte(`{"code":200,"success":"yes","data":{}}`), shoptoken.ErrBadResponse},
		{"huge body", 200, huge, shoptoken.ErrBadResponse},
		{"unknown envelope", 200, []byte(`{"result":{"id":1}}`), shoptoken.ErrBadResponse},
		{"error inside 200", 200, []byte(`{"gw_err_resp":{"trace_id":"t","err_code":5001,"err_msg":"系统错误"}}`), shoptoken.ErrUnavailable},
		{"503 text", 503, []byte("Service Unavailable"), shoptoken.ErrUnavailable},
		{"500 unknown json", 500, []byte(`{"timestamp":1,"status":500}`), shoptoken.ErrUnavailable},
		{"success on 500", 500, []byte(`{"code":200,"success":true,"data":{}}`), shoptoken.ErrUnavailable},
		{"429 text", 429, []byte("slow down"), shoptoken.ErrRateLimited},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cl, mock, p, _ := mockClient(t)
			mock.RegisterResponder(http.MethodPost, shopURL, httpmock.NewBytesResponder(tt.status, tt.body))
			var out shop
			err := cl.Call(context.Background(), "youzan.shop.get", "3.0.0", nil, &out)
			require.ErrorIs(t, err, tt.want, "%v", err)
			var e *shoptoken.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, "youzan", e.Platform)
			assert.Equal(t, 1, mock.GetCallCountInfo()["POST "+shopURL], "not retried")
			requireNoSecret(t, errText(err), p.secrets()...)
		})
	}
}

// TestClient_Call_requestIDKept: every failure whose answer names a trace_id carries it as
// RequestID, also when the answer is not understood or its status overrides its envelope.
func TestClient_Call_requestIDKept(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		body   string
		want   error
		id     string
	}{
		{"unknown envelope on 500", 500, `{"trace_id":"t-500","status":500}`, shoptoken.ErrUnavailable, "t-500"},
		{"success envelope on 500", 500, `{"trace_id":"t-ok","code":200,"success":true,"data":{}}`, shoptoken.ErrUnavailable, "t-ok"},
		{"envelope of the wrong types", 200, `{"trace_id":"t-type","code":200,"success":"yes","data":{}}`, shoptoken.ErrBadResponse, "t-type"},
		{"gw_err_resp of the wrong types", 200, `{"gw_err_resp":{"trace_id":"t-gw","err_code":4203,"err_msg":{"zh":"x"}}}`, shoptoken.ErrBadResponse, "t-gw"},
		{"data of the wrong type", 200, `{"trace_id":"t-data","code":200,"success":true,"data":{"id":"x"}}`, shoptoken.ErrBadResponse, "t-data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cl, mock, _, _ := mockClient(t)
			mock.RegisterResponder(http.MethodPost, shopURL, httpmock.NewStringResponder(tt.status, tt.body))
			var out shop
			err := cl.Call(context.Background(), "youzan.shop.get", "3.0.0", nil, &out)
			require.ErrorIs(t, err, tt.want, "%v", err)
			var e *shoptoken.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, tt.id, e.RequestID)
			assert.Equal(t, tt.status, e.StatusCode)
		})
	}
}

// TestClient_Call_tolerantTypes: business envelopes with numbers as strings still work.
func TestClient_Call_tolerantTypes(t *testing.T) {
	t.Parallel()
	cl, mock, _, _ := mockClient(t)
	mock.RegisterResponder(http.MethodPost, shopURL, httpmock.NewStringResponder(200,
		`{"trace_id":123,"code":"200","success":"true","data":{"id":42587152,"name":"店"},"message":null}`))
	var out shop
	require.NoError(t, cl.Call(context.Background(), "youzan.shop.get", "3.0.0", nil, &out))
	assert.Equal(t, "店", out.Name)
}

func TestClient_Call_badArguments(t *testing.T) {
	t.Parallel()
	cl, mock, p, cfg := mockClient(t)
	ctx := context.Background()
	tests := []struct {
		name          string
		api, version  string
		params        any
		wantInMessage string
	}{
		{"empty api", "", "3.0.0", nil, "API name"},
		{"slash in api", "youzan.shop/get", "3.0.0", nil, "API name"},
		{"empty version", "youzan.shop.get", "", nil, "version"},
		{"query in version", "youzan.shop.get", "3.0.0?x=1", nil, "version"},
		{"array params", "youzan.shop.get", "3.0.0", []int{1}, "JSON object"},
		{"raw params not JSON", "youzan.shop.get", "3.0.0", json.RawMessage(`{"a":`), "JSON object"},
		{"unencodable params", "youzan.shop.get", "3.0.0", map[string]any{"f": func() {}}, "encode params"},
	}
	for _, tt := range tests {
		err := cl.Call(ctx, tt.api, tt.version, tt.params, nil)
		require.ErrorIs(t, err, shoptoken.ErrBadRequest, tt.name)
		assert.Contains(t, err.Error(), tt.wantInMessage, tt.name)
	}
	assert.Equal(t, int64(0), p.tokens.Load())
	assert.Equal(t, 0, mock.GetTotalCallCount())

	// No source: an error, never a panic, also for a nil pointer in the interface and for a
	// Client that was not made by NewClient or App.Client.
	for name, src := range map[string]shoptoken.TokenSource{
		"nil": nil, "nil *Cache": (*shoptoken.Cache)(nil), "nil func": shoptoken.TokenSourceFunc(nil),
	} {
		cl, err := youzan.NewClient(cfg, src)
		require.ErrorIs(t, err, shoptoken.ErrBadRequest, name)
		assert.Nil(t, cl, name)
		assert.Contains(t, err.Error(), "no token source", name)
	}
	var zero youzan.Client
	require.ErrorIs(t, zero.Call(ctx, "youzan.shop.get", "3.0.0", nil, nil), shoptoken.ErrBadRequest)
	var none *youzan.Client
	require.ErrorIs(t, none.Call(ctx, "youzan.shop.get", "3.0.0", nil, nil), shoptoken.ErrBadRequest)
	assert.Equal(t, 0, mock.GetTotalCallCount())
}

func TestClient_Call_rateLimitAdvice(t *testing.T) {
	t.Parallel()
	clk := shoptokentest.NewClock(time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC))
	advance := clk.Advance

	cfg, mock := mockConfig(t)
	cfg.Clock = clk
	p := &mockPlatform{}
	mock.RegisterResponder(http.MethodPost, tokenURL, p.token)
	limited := true
	var lmu sync.Mutex
	mock.RegisterResponder(http.MethodPost, shopURL, func(*http.Request) (*http.Response, error) {
		lmu.Lock()
		defer lmu.Unlock()
		if limited {
			return httpmock.NewBytesResponse(200, fixture(t, "gw_4101.json")), nil
		}
		return httpmock.NewBytesResponse(200, fixture(t, "call_ok.json")), nil
	})
	src, err := youzan.NewSource(cfg, grant)
	require.NoError(t, err)
	defer src.Close()
	cl := mustClient(t, cfg, src)
	ctx := context.Background()
	call := func() time.Duration {
		err := cl.Call(ctx, "youzan.shop.get", "3.0.0", nil, nil)
		require.ErrorIs(t, err, shoptoken.ErrRateLimited)
		d, ok := youzan.RetryAfter(err)
		require.True(t, ok)
		assert.Contains(t, err.Error(), "retry after "+d.String())
		return d
	}

	// A caller that waits as advised and is limited again moves up the sequence.
	var got []time.Duration
	for range 7 {
		d := call()
		got = append(got, d)
		advance(d)
	}
	assert.Equal(t, []time.Duration{3 * time.Second, 6 * time.Second, 12 * time.Second, 24 * time.Second,
		48 * time.Second, 48 * time.Second, 48 * time.Second}, got)

	// A success starts the sequence again.
	lmu.Lock()
	limited = false
	lmu.Unlock()
	require.NoError(t, cl.Call(ctx, "youzan.shop.get", "3.0.0", nil, nil))
	lmu.Lock()
	limited = true
	lmu.Unlock()
	assert.Equal(t, 3*time.Second, call())

	// A concurrent burst within one wait does not escalate.
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := cl.Call(ctx, "youzan.shop.get", "3.0.0", nil, nil)
			d, ok := youzan.RetryAfter(err)
			assert.True(t, ok)
			assert.Equal(t, 3*time.Second, d)
		}()
	}
	wg.Wait()

	// A quiet spell starts it again too.
	advance(3 * time.Second)
	assert.Equal(t, 6*time.Second, call())
	advance(time.Hour)
	assert.Equal(t, 3*time.Second, call())

	_, ok := youzan.RetryAfter(fmt.Errorf("other"))
	assert.False(t, ok)
}

func TestClient_Call_secretsNeverShow(t *testing.T) {
	t.Parallel()
	cfg, mock := mockConfig(t)
	log, logs := newLogger()
	cfg.Logger = log
	answers := []string{
		`{"gw_err_resp":{"trace_id":"t1","err_code":4203,"err_msg":"access_token ` + secretAccess + ` 不存在"}}`,
		`{"gw_err_resp":{"trace_id":"t2","err_code":4203,"err_msg":"access_token ` + secretAccess2 + ` 不存在"}}`,
		`{"trace_id":"t3","code":1,"success":false,"message":"token=` + secretAccess2 + `"}`,
		`<html>` + secretAccess2 + `</html>`,
		`{"trace_id":"t4","code":200,"success":true,"data":{"echo":"` + secretAccess2 + `"}}`,
	}
	var n atomic.Int64
	mock.RegisterResponder(http.MethodPost, shopURL, func(*http.Request) (*http.Response, error) {
		i := min(int(n.Add(1))-1, len(answers)-1)
		return httpmock.NewStringResponse(200, answers[i]), nil
	})
	tokens := []string{secretAccess, secretAccess2}
	var tn atomic.Int64
	mock.RegisterResponder(http.MethodPost, tokenURL, func(*http.Request) (*http.Response, error) {
		i := min(int(tn.Add(1))-1, len(tokens)-1)
		return httpmock.NewBytesResponse(200, tokenAnswer(tokens[i], secretRefresh, time.Now().Add(time.Hour))), nil
	})
	src, err := youzan.NewSource(cfg, grant, shoptoken.WithMinInterval(0), shoptoken.WithLogger(log))
	require.NoError(t, err)
	defer src.Close()
	cl := mustClient(t, cfg, src)
	ctx := context.Background()

	var out strings.Builder
	for range 3 { // 4203 twice; business failure; HTML
		err := cl.Call(ctx, "youzan.shop.get", "3.0.0", map[string]string{"tid": "E1"}, nil)
		require.Error(t, err)
		out.WriteString(errText(err))
		log.Error("call failed", "err", err)
	}
	var data json.RawMessage
	require.NoError(t, cl.Call(ctx, "youzan.shop.get", "3.0.0", nil, &data))
	out.WriteString(fmt.Sprintf("%v %+v %#v", cl, src.Current(), src.Current()))
	requireNoSecret(t, out.String())
	requireNoSecret(t, logs.String())
	assert.Contains(t, logs.String(), "rejected", "the retry was logged")
	assert.Equal(t, int64(2), tn.Load())
}
