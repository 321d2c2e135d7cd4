package main

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"net/http"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/redisstore"
	"github.com/shoptoken/shoptoken/shops"
	"github.com/shoptoken/shoptoken/youzan"
)

// seedYouzan stores n Youzan shops' tokens (shop ids from first) whose expiries spread evenly
// over the 7 days after now+ahead, and schedules each as the App would (App.Due); failed of them
// get a recorded failure. It writes with 16 writers.
func seedYouzan(t *testing.T, rdb *redis.Client, p string, first, n, failed int, now time.Time, ahead time.Duration) {
	t.Helper()
	ctx := context.Background()
	store := redisstore.New(rdb, redisstore.WithPrefix(p))
	defer store.Close()
	app, err := youzan.NewApp(youzan.Config{ClientID: "id", ClientSecret: "unused"}, shops.WithStore(store))
	require.NoError(t, err)
	defer app.Close()
	week := 7 * 24 * time.Hour
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var dues []shoptoken.Due
			for i := w; i < n; i += 16 {
				shop := strconv.Itoa(first + i)
				exp := now.Add(ahead + time.Duration(float64(week)*float64(i+1)/float64(n+1)))
				tok := &shoptoken.Token{AccessToken: fmt.Sprintf("at-%032d", i), RefreshToken: fmt.Sprintf("rt-%032d", i),
					IssuedAt: exp.Add(-week), Expiry: exp, RefreshExpiry: exp.Add(21 * 24 * time.Hour), Subject: shop,
					Scope: []string{"trade", "item"}}
				key := app.Key(shop).String()
				if _, err := store.Save(ctx, key, tok, 0); err != nil {
					errs <- err
					return
				}
				dues = append(dues, shoptoken.Due{Key: key, At: app.Due(tok)})
			}
			if err := store.Schedule(ctx, app.Namespace(), dues...); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	var fs []shoptoken.Failure
	for i := range failed {
		key := app.Key(strconv.Itoa(first + i)).String()
		fs = append(fs, shoptoken.Failure{Key: key, At: now, Kind: "reauthorize", Message: "youzan: token: 1103 grant does not exist"})
	}
	require.NoError(t, store.RecordFailures(ctx, app.Namespace(), fs...))
}

// TestMeasure_list100k: `list --expiring 72h` over 100 000 shops in Redis, through the binary:
// the shops expiring within three days (3/7 of them), read with one due-index query, one
// failure-index read and one pipeline per 1000 tokens. Skipped with -short.
func TestMeasure_list100k(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: seeding 100 000 shops takes a while")
	}
	rdb := needRedis(t)
	p := prefix(t, rdb)
	const n = 100_000
	now := time.Now()
	start := time.Now()
	seedYouzan(t, rdb, p, 10_000_000, n, 50, now, 0)
	t.Logf("seeded %d shops in %v", n, time.Since(start).Round(time.Millisecond))
	r := newRunner(t, "SHOPTOKEN_YOUZAN_CLIENT_SECRET=unused")
	args := []string{"list", "--expiring", "72h", "--json", "--count-round-trips", "--limit", "5",
		"--platform", "youzan", "--app", "id", "--redis", redisAddr, "--prefix", p}
	var best time.Duration
	var res result
	for range 3 {
		start = time.Now()
		res = r.run(nil, args...)
		took := time.Since(start)
		require.Equal(t, exitOK, res.code, "%s", res.stderr)
		if best == 0 || took < best {
			best = took
		}
	}
	var list struct {
		Count int `json:"count"`
	}
	res.json(t, &list)
	want := n * 3 / 7
	assert.InDelta(t, want, list.Count, float64(n)/100, "3 days of 7")
	m := regexp.MustCompile(`redis round trips: (\d+)`).FindStringSubmatch(res.stderr)
	require.NotNil(t, m, res.stderr)
	trips, _ := strconv.Atoi(m[1])
	// One ZRANGEBYSCORE, one HGETALL, and a pipeline per 1000 tokens loaded: the candidates are
	// the shops due within 72h, whose tokens expire within 72h plus Youzan's early refresh (a day
	// ahead): 4/7 of the shops.
	candidates := n * 4 / 7
	assert.LessOrEqual(t, trips, 2+(candidates+999)/1000+1)
	t.Logf("list --expiring 72h at %d shops in Redis: %d shops listed, %v wall (the whole process, best of 3), %d Redis round trips",
		n, list.Count, best.Round(time.Millisecond), trips)
	if os.Getenv("SHOPTOKEN_MEASURE_OUT") != "" {
		_ = os.WriteFile(os.Getenv("SHOPTOKEN_MEASURE_OUT"), []byte(fmt.Sprintf("list %d %d %v %d\n", n, list.Count, best, trips)), 0o644)
	}
	_ = strings.TrimSpace
}

// procStat returns the process's CPU time so far and its resident and peak memory (Linux).
func procStat(t *testing.T, pid int) (cpu time.Duration, rss, hwm int64) {
	t.Helper()
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	require.NoError(t, err)
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
	utime, _ := strconv.ParseInt(fields[11], 10, 64) // fields 14 and 15 of proc(5), after pid and comm
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	cpu = time.Duration(utime+stime) * 10 * time.Millisecond // USER_HZ is 100 on Linux
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	for _, l := range strings.Split(string(status), "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && (f[0] == "VmRSS:" || f[0] == "VmHWM:") {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			if f[0] == "VmRSS:" {
				rss = kb << 10
			} else {
				hwm = kb << 10
			}
		}
	}
	return cpu, rss, hwm
}

// TestMeasure_keeperDay: the keeper service keeps 10 000 Youzan shops for one simulated day. The
// keeper and the emulator run as processes on one simulated clock, 1440 times faster than real
// time (the hidden --clock-speed and --clock-epoch flags), so the day takes a minute; the shops'
// planned refreshes spread evenly over the next 7 days, so the day renews a seventh of them. It reports
// the keeper process's CPU time and memory (from /proc). Run with SHOPTOKEN_MEASURE=1.
func TestMeasure_keeperDay(t *testing.T) {
	if os.Getenv("SHOPTOKEN_MEASURE") != "1" {
		t.Skip("SHOPTOKEN_MEASURE=1 runs the one-minute simulated day")
	}
	rdb := needRedis(t)
	p := prefix(t, rdb)
	const n, speed, first = 10_000, 1440, 20_000_000
	epoch := time.Now().Truncate(time.Second)
	clock := scaledClock{epoch: epoch, speed: speed}
	// Tokens renewed a day ahead (±10 %): expiries from 27 h on leave nothing due at the start,
	// and the day renews those whose planned refresh falls in it, a seventh of them.
	seedYouzan(t, rdb, p, first, n, 0, clock.Now(), 27*time.Hour)
	clk := []string{"--clock-speed", strconv.Itoa(speed), "--clock-epoch", strconv.FormatInt(epoch.Unix(), 10)}
	r := newRunner(t, secretEnv...)
	em := emulate(t, r, append([]string{"youzan", "--grants", fmt.Sprintf("%d-%d", first, first+n-1)}, clk...)...)
	addr := freePort(t)
	args := append([]string{"keeper", "--listen", addr, "--sweep-every", "1s", "--rate", "1000"}, youzanFlags(em, p)...)
	k := r.start(nil, append(args, clk...)...)
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 30*time.Second, 50*time.Millisecond)
	pid := k.cmd.Process.Pid
	cpu0, _, _ := procStat(t, pid)
	issued0 := em.stats(t, "youzan")["Issued"]
	startSim := clock.Now()
	time.Sleep(time.Duration(float64(24*time.Hour) / speed))
	cpu1, rss, hwm := procStat(t, pid)
	day := clock.Now().Sub(startSim)
	issued := em.stats(t, "youzan")["Issued"] - issued0
	require.Equal(t, exitOK, k.stop(30*time.Second), "stderr: %s", k.stderr.String())
	assert.InDelta(t, n/7, issued, n/20, "a day renews a seventh of the shops")
	cpu := cpu1 - cpu0
	t.Logf("keeper, %d shops, one simulated day (%v): %d refreshes, CPU %v (%.2f s per 10 000 shops per day), RSS %.1f MiB, peak %.1f MiB",
		n, day.Round(time.Minute), int(issued), cpu, cpu.Seconds()*10_000/n, float64(rss)/(1<<20), float64(hwm)/(1<<20))
}
