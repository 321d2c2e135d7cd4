package httpx

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken/internal/testkit"
)

// sharedLen returns how many Clients Shared keeps.
func sharedLen() int {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	return len(shared.recent) + len(shared.old)
}

func TestShared(t *testing.T) {
	hc := &http.Client{}
	logger := slog.New(slog.DiscardHandler)
	cfg := Config{Platform: "youzan", HTTPClient: hc, Logger: logger, MaxBody: 1 << 10}

	a := Shared(cfg)
	assert.Same(t, a, Shared(cfg), "equal Configs share a Client")
	assert.Same(t, a, Shared(Config{Platform: "youzan", HTTPClient: hc, Logger: logger, MaxBody: 1 << 10}))
	assert.NotSame(t, a, Shared(Config{Platform: "youzan", HTTPClient: &http.Client{}, Logger: logger, MaxBody: 1 << 10}),
		"another *http.Client is another Client")
	assert.NotSame(t, a, Shared(Config{Platform: "youzan", HTTPClient: hc, Logger: logger}), "another MaxBody")
	assert.Equal(t, int64(1<<10), a.maxBody)

	// A program that makes a new *http.Client per call: the kept Clients stay bounded, and the
	// one in steady use stays shared.
	for range 10 * sharedMax {
		assert.NotSame(t, a, Shared(Config{Platform: "youzan", HTTPClient: &http.Client{}}))
		assert.Same(t, a, Shared(cfg))
		assert.LessOrEqual(t, sharedLen(), 2*sharedMax)
	}
	assert.Nil(t, hc.Transport, "the caller's client is not written to")
}

func TestShared_concurrent(t *testing.T) {
	srv, hits := countingServer(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		_, _ = io.WriteString(w, `{}`)
	})
	clients := []*http.Client{{}, {}, {}}
	const workers, each = 16, 20
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				c := Shared(fastConfig(Config{Platform: "vipauth", HTTPClient: clients[(w+i)%len(clients)]}))
				resp, err := c.Do(context.Background(), Request{URL: srv.URL})
				if !assert.NoError(t, err) || !assert.Equal(t, 200, resp.StatusCode) {
					return
				}
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, workers*each, int(hits.Load()))
	for _, hc := range clients {
		assert.Same(t, Shared(fastConfig(Config{Platform: "vipauth", HTTPClient: hc})),
			Shared(fastConfig(Config{Platform: "vipauth", HTTPClient: hc})))
	}
}

func TestClient_Do_omitBody(t *testing.T) {
	t.Parallel()
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		_, _ = io.WriteString(w, `{"data":"`+secretAccess+`"}`)
	})
	logger, logs := testkit.Logger()
	_, err := New(fastConfig(Config{Logger: logger, OmitBody: true})).Do(context.Background(), Request{Op: "token", URL: srv.URL})
	require.NoError(t, err)
	assert.Contains(t, logs.String(), `"status":200`)
	assert.NotContains(t, logs.String(), `"body"`)
	testkit.NoSecret(t, "debug log", []string{secretAccess}, logs.String())
}
