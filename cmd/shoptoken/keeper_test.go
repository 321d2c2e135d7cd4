package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken/internal/testkit"
)

// TestE2E_keeper: the keeper service keeps three shops whose tokens live 6 s; /healthz and
// /metrics answer; SIGTERM arrives while a refresh waits on a slow platform (3 s of emulator
// latency): the keeper waits for it, saves the new token and exits 0. Every token the platform
// issued was saved (the versions add up to the tokens issued), so no rotation was abandoned.
func TestE2E_keeper(t *testing.T) {
	rdb := needRedis(t)
	t.Parallel()
	r := newRunner(t, secretEnv...)
	em := emulate(t, r, "youzan", "--grants", "5001-5003", "--token-ttl", "6s")
	p := prefix(t, rdb)
	yz := youzanFlags(em, p)
	shops := []string{"5001", "5002", "5003"}
	for _, shop := range shops {
		res := r.run(nil, append([]string{"refresh", shop}, yz...)...)
		require.Equal(t, exitOK, res.code, "%s", res)
	}
	addr := freePort(t)
	k := r.start(nil, append([]string{"keeper", "--listen", addr, "--sweep-every", "200ms", "--shutdown-timeout", "20s"}, yz...)...)
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	require.Eventually(t, func() bool { code, _ := get("/healthz"); return code == http.StatusOK }, 20*time.Second, 50*time.Millisecond,
		"stderr: %s", k.stderr.String())
	// The tokens fall due after half their life (3 s): the keeper renews them.
	issued := em.stats(t, "youzan")["Issued"]
	require.Eventually(t, func() bool { return em.stats(t, "youzan")["Issued"] >= issued+3 }, 20*time.Second, 50*time.Millisecond,
		"the keeper refreshes due shops; stderr: %s", k.stderr.String())
	code, metrics := get("/metrics")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, metrics, "shoptoken_refreshes_total{")
	assert.Contains(t, metrics, `shoptoken_platform="youzan"`)
	assert.Contains(t, metrics, "shoptoken_keeper_sweeps_total")
	assert.NotContains(t, metrics, "5001", "no shop in the metrics")
	code, body := get("/healthz")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, `"status":"ok"`)

	// A slow platform; SIGTERM while a refresh waits on it.
	em.control(t, "youzan/latency?d=3s")
	reqs := em.stats(t, "youzan")["TokenRequests"]
	require.Eventually(t, func() bool { return em.stats(t, "youzan")["TokenRequests"] > reqs }, 20*time.Second, 20*time.Millisecond)
	sent := time.Now()
	require.Equal(t, exitOK, k.stop(30*time.Second), "stderr: %s", k.stderr.String())
	assert.GreaterOrEqual(t, time.Since(sent), 2*time.Second, "it waited for the refresh under way")
	em.control(t, "youzan/latency?d=0s")

	st := em.stats(t, "youzan")
	var versions int64
	for _, shop := range shops {
		var v tokenView
		res := r.run(nil, append([]string{"inspect", shop, "--json"}, yz...)...)
		require.Equal(t, exitOK, res.code, "%s", res)
		res.json(t, &v)
		versions += v.Version
	}
	assert.EqualValues(t, st["Issued"], versions, "every token issued was saved")
	assert.Zero(t, st["DeadRefreshUsed"])

	sc := bufio.NewScanner(strings.NewReader(k.stderr.String()))
	var lines int
	var saw bool
	for sc.Scan() {
		var rec map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &rec), "a JSON log line: %s", sc.Text())
		lines++
		if rec["msg"] == "shoptoken keeper stopped: every refresh under way finished and was saved" {
			saw = true
		}
	}
	assert.Greater(t, lines, 2)
	assert.True(t, saw, "stderr: %s", k.stderr.String())
	testkit.NoSecret(t, "the keeper's output", append(storedSecrets(t, rdb, p), emulatorSecret), r.outputs...)
}
