package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// The e2e tests build the command once and run it as a subprocess, as an operator or a script
// would, against the emulators it serves itself (shoptoken emulate), the real Redis and the real
// PostgreSQL. Without Redis they skip, unless SHOPTOKEN_REQUIRE_REDIS=1 (CI) makes them fail.

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// bin returns the path of the command, built once per test binary into a temporary directory.
func bin(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "shoptoken-e2e-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "shoptoken")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	require.NoError(t, binErr)
	return binPath
}

const emulatorSecret = "emu-s3cr3t-7f3a9c"

// result is one run of the command.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// json decodes the run's standard output into v.
func (r result) json(t *testing.T, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal([]byte(r.stdout), v), "stdout: %s", r.stdout)
}

// runner runs the command with a fixed environment (and nothing of the test process's but PATH
// and HOME), collecting every output for the secret checks.
type runner struct {
	t       *testing.T
	env     []string
	mu      sync.Mutex
	outputs []string
}

func newRunner(t *testing.T, env ...string) *runner {
	return &runner{t: t, env: append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)}
}

func (r *runner) note(s ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.outputs = append(r.outputs, s...)
}

// run runs the command to completion (at most a minute) with extra environment variables.
func (r *runner) run(extraEnv []string, args ...string) result {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin(r.t), args...)
	cmd.Env = append(append([]string{}, r.env...), extraEnv...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	res := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		res.code = ee.ExitCode()
	} else {
		require.NoError(r.t, err)
	}
	r.note(res.stdout, res.stderr)
	return res
}

// start starts a long-running verb and returns it with its standard output as lines.
func (r *runner) start(extraEnv []string, args ...string) *proc {
	r.t.Helper()
	cmd := exec.Command(bin(r.t), args...)
	cmd.Env = append(append([]string{}, r.env...), extraEnv...)
	stdout, err := cmd.StdoutPipe()
	require.NoError(r.t, err)
	stdin, err := cmd.StdinPipe()
	require.NoError(r.t, err)
	p := &proc{cmd: cmd, lines: make(chan string, 1000), stdin: stdin, r: r}
	cmd.Stderr = &p.stderr
	require.NoError(r.t, cmd.Start())
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for sc.Scan() {
			r.note(sc.Text())
			p.lines <- sc.Text()
		}
		close(p.lines)
	}()
	r.t.Cleanup(func() { p.stop(5 * time.Second) })
	return p
}

type proc struct {
	cmd    *exec.Cmd
	lines  chan string
	stdin  io.WriteCloser
	stderr syncBuffer
	r      *runner
	done   bool
	code   int
}

// line returns the next line of standard output, failing after d.
func (p *proc) line(t *testing.T, d time.Duration) string {
	t.Helper()
	select {
	case l, ok := <-p.lines:
		require.True(t, ok, "the process ended; stderr:\n%s", p.stderr.String())
		return l
	case <-time.After(d):
		t.Fatalf("no output in %v; stderr:\n%s", d, p.stderr.String())
		return ""
	}
}

// signal sends SIGTERM and waits (at most d) for the exit code.
func (p *proc) stop(d time.Duration) int {
	if p.done {
		return p.code
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	return p.wait(d)
}

func (p *proc) wait(d time.Duration) int {
	if p.done {
		return p.code
	}
	exited := make(chan error, 1)
	go func() { exited <- p.cmd.Wait() }()
	select {
	case <-exited:
	case <-time.After(d):
		_ = p.cmd.Process.Kill()
		<-exited
	}
	p.done = true
	p.code = p.cmd.ProcessState.ExitCode()
	p.r.note(p.stderr.String())
	return p.code
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// emulators is a running `shoptoken emulate`.
type emulators struct {
	p    *proc
	urls map[string]string
	base string
}

// emulate starts `shoptoken emulate` on a free port with the given platforms and flags.
func emulate(t *testing.T, r *runner, args ...string) *emulators {
	t.Helper()
	p := r.start([]string{"SHOPTOKEN_EMULATE_SECRET=" + emulatorSecret},
		append([]string{"emulate", "--listen", "127.0.0.1:0", "--json"}, args...)...)
	var hello struct {
		Listen string            `json:"listen"`
		URLs   map[string]string `json:"urls"`
	}
	require.NoError(t, json.Unmarshal([]byte(p.line(t, 30*time.Second)), &hello))
	return &emulators{p: p, urls: hello.URLs, base: "http://" + hello.Listen}
}

// control posts to the emulators' control endpoint and decodes the answer.
func (e *emulators) control(t *testing.T, path string) map[string]any {
	t.Helper()
	resp, err := http.Post(e.base+"/_emulator/"+path, "", nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %v", path, out)
	return out
}

// stats returns an emulator's counters.
func (e *emulators) stats(t *testing.T, platform string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(e.base + "/_emulator/" + platform + "/stats")
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]float64
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return out
}

// redisAddr is the test Redis; needRedis skips (or, in CI, fails) without it.
const redisAddr = "127.0.0.1:6379"

func needRedis(t *testing.T) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr})
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		_ = rdb.Close()
		if os.Getenv("SHOPTOKEN_REQUIRE_REDIS") == "1" {
			t.Fatalf("no Redis at %s: %v", redisAddr, err)
		}
		t.Skipf("no Redis at %s: these tests need a real Redis", redisAddr)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// prefix returns a Redis key prefix of the test's own, deleted at cleanup.
func prefix(t *testing.T, rdb *redis.Client) string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	p := "shoptoken-cli-test:" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, p+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if len(keys) > 0 {
			_ = rdb.Del(ctx, keys...).Err()
		}
	})
	return p
}

// storedSecrets returns every access and refresh token stored under prefix p: what no output of
// the command may show.
func storedSecrets(t *testing.T, rdb *redis.Client, p string) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	iter := rdb.Scan(ctx, 0, p+"*:tok", 1000).Iterator()
	for iter.Next(ctx) {
		raw, err := rdb.HGet(ctx, iter.Val(), "tok").Result()
		if err != nil {
			continue
		}
		var tok struct {
			AccessToken  string `json:"access_token"`
			RefreshToken string `json:"refresh_token"`
		}
		if json.Unmarshal([]byte(raw), &tok) == nil {
			for _, s := range []string{tok.AccessToken, tok.RefreshToken} {
				if s != "" {
					out = append(out, s)
				}
			}
		}
	}
	return out
}

// freePort returns a loopback address no one listens on now.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// closedPort is an address where nothing listens: a store or platform that is down.
const closedPort = "127.0.0.1:1"

func hasLine(out, sub string) bool {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, sub) {
			return true
		}
	}
	return false
}
