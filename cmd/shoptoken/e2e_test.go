package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken/internal/testkit"
)

// youzanFlags are the flags of one Youzan app on the emulators and the test's Redis prefix.
func youzanFlags(em *emulators, p string) []string {
	return []string{"--platform", "youzan", "--app", "id", "--base-url", em.urls["youzan"], "--redis", redisAddr, "--prefix", p}
}

var secretEnv = []string{"SHOPTOKEN_YOUZAN_CLIENT_SECRET=" + emulatorSecret}

// TestE2E_youzan: refresh, inspect and list against the Youzan emulator and Redis, through the
// built binary; every failure path with its documented exit code; no secret in any output.
func TestE2E_youzan(t *testing.T) {
	rdb := needRedis(t)
	t.Parallel()
	r := newRunner(t, secretEnv...)
	em := emulate(t, r, "youzan", "--grants", "1001-1003")
	p := prefix(t, rdb)
	yz := youzanFlags(em, p)

	for _, shop := range []string{"1001", "1002", "1003"} {
		res := r.run(nil, append([]string{"refresh", shop}, yz...)...)
		require.Equal(t, exitOK, res.code, "%s", res)
	}
	var v tokenView
	res := r.run(nil, append([]string{"inspect", "1001", "--json"}, yz...)...)
	require.Equal(t, exitOK, res.code, "%s", res)
	res.json(t, &v)
	assert.Equal(t, "youzan/id/1001", v.Key)
	assert.EqualValues(t, 1, v.Version)
	assert.Equal(t, "ok", v.State)
	assert.Regexp(t, `^.{1,4}…\(32\)$`, v.AccessToken, "redacted as shoptoken prints it")
	require.NotNil(t, v.NextRefresh)
	require.NotNil(t, v.Expiry)
	assert.True(t, v.NextRefresh.Before(*v.Expiry), "the planned refresh comes before expiry")
	require.NotNil(t, v.Lease)
	assert.False(t, v.Lease.Held)

	// A forced refresh takes the lease and calls the platform again; the new token is saved.
	before := em.stats(t, "youzan")["Issued"]
	res = r.run(nil, append([]string{"refresh", "1001", "--json"}, yz...)...)
	require.Equal(t, exitOK, res.code, "%s", res)
	res.json(t, &v)
	assert.EqualValues(t, 2, v.Version, "saved before it printed")
	assert.Equal(t, before+1, em.stats(t, "youzan")["Issued"], "one platform call")
	res = r.run(nil, append([]string{"inspect", "1001", "--json"}, yz...)...)
	res.json(t, &v)
	assert.EqualValues(t, 2, v.Version)

	// list --expiring: all three expire within 8 days (Youzan's 7), none within an hour.
	var list struct {
		Count int          `json:"count"`
		Shops []*tokenView `json:"shops"`
	}
	res = r.run(nil, append([]string{"list", "--expiring", "192h", "--json"}, yz...)...)
	require.Equal(t, exitOK, res.code, "%s", res)
	res.json(t, &list)
	assert.Equal(t, 3, list.Count)
	res = r.run(nil, append([]string{"list", "--expiring", "1h", "--json"}, yz...)...)
	res.json(t, &list)
	assert.Zero(t, list.Count)
	res = r.run(nil, append([]string{"list"}, yz...)...)
	require.Equal(t, exitOK, res.code, "%s", res)
	assert.True(t, hasLine(res.stdout, "1002"), "human output lists the shops: %s", res.stdout)

	// Failure paths, each with its exit code.
	res = r.run(nil, append([]string{"inspect", "4242"}, yz...)...)
	assert.Equal(t, exitNotFound, res.code, "no stored token: %s", res)
	res = r.run(nil, append([]string{"refresh", "4242"}, yz...)...)
	assert.Equal(t, exitReauthorize, res.code, "a shop that never authorized the app (1103): %s", res)
	res = r.run([]string{"SHOPTOKEN_YOUZAN_CLIENT_SECRET=wrong-secret"}, append([]string{"refresh", "1002"}, yz...)...)
	assert.Equal(t, exitCredentials, res.code, "wrong secret: %s", res)
	down := []string{"--platform", "youzan", "--app", "id", "--base-url", "http://" + closedPort, "--redis", redisAddr, "--prefix", p}
	res = r.run(nil, append([]string{"refresh", "1002"}, down...)...)
	assert.Equal(t, exitUnavailable, res.code, "platform down: %s", res)
	storeDown := []string{"--platform", "youzan", "--app", "id", "--base-url", em.urls["youzan"], "--redis", closedPort}
	start := time.Now()
	res = r.run(nil, append([]string{"refresh", "1002"}, storeDown...)...)
	assert.Equal(t, exitUnavailable, res.code, "store down: %s", res)
	assert.Less(t, time.Since(start), 20*time.Second, "fails fast")
	res = r.run(nil, append([]string{"inspect", "1002", "--json"}, storeDown...)...)
	assert.Equal(t, exitUnavailable, res.code, "store down: %s", res)
	assert.Contains(t, res.stdout, `"kind":"unavailable"`)
	res = r.run(nil, append([]string{"list"}, storeDown...)...)
	assert.Equal(t, exitUnavailable, res.code, "store down: %s", res)
	res = r.run(nil, append([]string{"refresh", "1002", "--client-secret", emulatorSecret}, yz...)...)
	assert.Equal(t, exitUsage, res.code, "a secret flag is refused: %s", res)
	assert.Contains(t, res.stderr, "ps")
	res = r.run([]string{"SHOPTOKEN_YOUZAN_CLIENT_SECRET="}, append([]string{"refresh", "1002"}, yz...)...)
	assert.Equal(t, exitUsage, res.code, "no secret: %s", res)
	res = r.run(nil, "inspect", "1002")
	assert.Equal(t, exitUsage, res.code, "no app: %s", res)
	res = r.run(nil, "frobnicate")
	assert.Equal(t, exitUsage, res.code, "unknown verb: %s", res)

	// needs authorization and failing, as the fleet recorded them.
	em.control(t, "youzan/revoke?grant=1003")
	res = r.run(nil, append([]string{"refresh", "1003"}, yz...)...)
	assert.Equal(t, exitReauthorize, res.code, "%s", res)
	em.control(t, "youzan/fail-next?n=3&fault=unavailable")
	res = r.run(nil, append([]string{"refresh", "1002"}, yz...)...)
	assert.Equal(t, exitUnavailable, res.code, "%s", res)
	em.control(t, "youzan/fail-next?n=0&fault=none")
	res = r.run(nil, append([]string{"list", "--needs-authorization", "--json"}, yz...)...)
	require.Equal(t, exitOK, res.code, "%s", res)
	res.json(t, &list)
	require.Equal(t, 2, list.Count, "the revoked shop, and the one that never authorized: %s", res.stdout)
	for _, s := range list.Shops {
		assert.Contains(t, []string{"1003", "4242"}, s.Shop)
		assert.Equal(t, "needs-authorization", s.State)
	}
	res = r.run(nil, append([]string{"list", "--failing", "--json"}, yz...)...)
	res.json(t, &list)
	require.Equal(t, 1, list.Count, "%s", res.stdout)
	assert.Equal(t, "1002", list.Shops[0].Shop)
	assert.Equal(t, "unavailable", list.Shops[0].Failure.Kind)
	res = r.run(nil, append([]string{"inspect", "1002"}, yz...)...)
	assert.Contains(t, res.stdout, "last failure")
	// Once the shop refreshes again (another process), the record is superseded.
	time.Sleep(1100 * time.Millisecond) // a later issue time than the failure's, to the millisecond
	res = r.run(nil, append([]string{"refresh", "1002"}, yz...)...)
	require.Equal(t, exitOK, res.code, "%s", res)
	res = r.run(nil, append([]string{"list", "--failing", "--json"}, yz...)...)
	res.json(t, &list)
	assert.Zero(t, list.Count, "%s", res.stdout)

	secrets := append(storedSecrets(t, rdb, p), emulatorSecret)
	require.GreaterOrEqual(t, len(secrets), 5)
	testkit.NoSecret(t, "the command's output", secrets, r.outputs...)
}

// TestE2E_config: apps and store from a config file, the secret from a file; secrets written in
// the file are refused; PostgreSQL as the store.
func TestE2E_config(t *testing.T) {
	rdb := needRedis(t)
	t.Parallel()
	r := newRunner(t)
	em := emulate(t, r, "youzan", "veapi", "--grants", "2001")
	p := prefix(t, rdb)
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "yz-secret")
	require.NoError(t, os.WriteFile(secretFile, []byte(emulatorSecret+"\n"), 0o600))
	cfg := filepath.Join(dir, "shoptoken.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`
store:
  redis: {addr: %q, prefix: %q}
apps:
  - platform: youzan
    app: id
    base_url: %s
    client_secret_file: %s
  - platform: veapi
    app: acme
    base_url: %s
    vekey_env: VEKEY_FOR_TEST
`, redisAddr, p, em.urls["youzan"], secretFile, em.urls["veapi"])), 0o600))

	res := r.run(nil, "--config", cfg, "refresh", "2001")
	assert.Equal(t, exitUsage, res.code, "two apps: which one? %s", res)
	assert.Contains(t, res.stderr, "youzan/id, veapi/acme")
	res = r.run([]string{"VEKEY_FOR_TEST=" + emulatorSecret}, "--config", cfg, "--platform", "youzan", "refresh", "2001")
	require.Equal(t, exitOK, res.code, "%s", res)
	res = r.run([]string{"SHOPTOKEN_CONFIG=" + cfg, "VEKEY_FOR_TEST=" + emulatorSecret}, "list", "--json")
	require.Equal(t, exitOK, res.code, "every app listed: %s", res)
	assert.Contains(t, res.stdout, `"shop": "2001"`)

	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("apps:\n  - platform: youzan\n    app: id\n    client_secret: "+emulatorSecret+"\n"), 0o600))
	res = r.run(nil, "--config", bad, "inspect", "1")
	assert.Equal(t, exitUsage, res.code, "%s", res)
	assert.Contains(t, res.stderr, "client_secret_file")
	require.NoError(t, os.WriteFile(bad, []byte("apps: [{platform: taobao, app: x}]\n"), 0o600))
	res = r.run(nil, "--config", bad, "inspect", "1")
	assert.Equal(t, exitUsage, res.code, "%s", res)

	// PostgreSQL: the same verbs on sqlstore.
	if !pgUp() {
		if os.Getenv("SHOPTOKEN_REQUIRE_SQL") == "1" {
			t.Fatal("no PostgreSQL at 127.0.0.1:5432")
		}
		t.Skip("no PostgreSQL at 127.0.0.1:5432")
	}
	tp := "cli_" + strings.ReplaceAll(strings.TrimSuffix(strings.TrimPrefix(p, "shoptoken-cli-test:"), ":"), "-", "") + "_"
	pg := []string{"SHOPTOKEN_YOUZAN_CLIENT_SECRET=" + emulatorSecret, "SHOPTOKEN_SQL_DSN=postgres://postgres@127.0.0.1:5432/test?sslmode=disable"}
	pgCfg := filepath.Join(dir, "pg.yaml")
	require.NoError(t, os.WriteFile(pgCfg, []byte(fmt.Sprintf(`
store:
  sql: {dialect: postgres, prefix: %s, create_tables: true}
apps:
  - {platform: youzan, app: id, base_url: %q}
`, tp, em.urls["youzan"])), 0o600))
	t.Cleanup(func() { dropTables(tp) })
	res = r.run(pg, "--config", pgCfg, "refresh", "2001")
	require.Equal(t, exitOK, res.code, "%s", res)
	var v tokenView
	res = r.run(pg, "--config", pgCfg, "inspect", "2001", "--json")
	require.Equal(t, exitOK, res.code, "%s", res)
	res.json(t, &v)
	assert.EqualValues(t, 1, v.Version)
	require.NotNil(t, v.Lease, "sqlstore reports its lease")
	res = r.run(pg, "--config", pgCfg, "list", "--expiring", "192h", "--json")
	require.Equal(t, exitOK, res.code, "%s", res)
	assert.Contains(t, res.stdout, `"count": 1`)
	res = r.run(pg, "--config", pgCfg, "list", "--failing")
	assert.Equal(t, exitUsage, res.code, "sqlstore keeps no failure index yet: %s", res)
	res = r.run([]string{"SHOPTOKEN_YOUZAN_CLIENT_SECRET=" + emulatorSecret, "SHOPTOKEN_SQL_DSN=postgres://postgres@" + closedPort + "/test?sslmode=disable&connect_timeout=2"},
		"--config", pgCfg, "inspect", "2001")
	assert.Equal(t, exitUnavailable, res.code, "database down: %s", res)
	require.NoError(t, os.WriteFile(bad, []byte("store: {sql: {dialect: postgres, dsn: 'postgres://u:hunter2@h/db'}}\napps: [{platform: youzan, app: id}]\n"), 0o600))
	res = r.run(pg, "--config", bad, "inspect", "1")
	assert.Equal(t, exitUsage, res.code, "a DSN with a password in the file: %s", res)
	testkit.NoSecret(t, "the command's output", append(storedSecrets(t, rdb, p), emulatorSecret, "hunter2"), r.outputs...)
}

// TestE2E_vipauth: authorize with the loopback callback server and with the out-of-band code,
// the token stored for the fleet; revoke, after which the shop needs authorization.
func TestE2E_vipauth(t *testing.T) {
	rdb := needRedis(t)
	t.Parallel()
	r := newRunner(t, "SHOPTOKEN_VIPAUTH_CLIENT_SECRET="+emulatorSecret)
	cb := freePort(t)
	em := emulate(t, r, "vipauth", "--redirect-uri", "http://"+cb+"/callback")
	p := prefix(t, rdb)
	vip := []string{"--platform", "vipauth", "--app", "id", "--base-url", em.urls["vipauth_oauth2"], "--redis", redisAddr, "--prefix", p}

	em.control(t, "vipauth/consent-as?open_id=OPEN1")
	a := r.start(nil, append([]string{"authorize", "--listen", cb, "--json"}, vip...)...)
	var first struct {
		URL string `json:"authorize_url"`
	}
	require.NoError(t, jsonLine(a.line(t, 30*time.Second), &first))
	resp, err := http.Get(first.URL) // the browser: vip.com's page redirects to the callback
	require.NoError(t, err)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "%s", page)
	assert.Contains(t, string(page), "Authorized")
	require.Equal(t, exitOK, a.wait(30*time.Second), "stderr: %s", a.stderr.String())
	var v tokenView
	res := r.run(nil, append([]string{"inspect", "OPEN1", "--json"}, vip...)...)
	require.Equal(t, exitOK, res.code, "%s", res)
	res.json(t, &v)
	assert.Equal(t, "OPEN1", v.Subject)
	require.NotNil(t, v.NextRefresh, "vip.com: the grant warning is the plan")

	// Out of band: the page shows the code; the command reads it from standard input.
	em.control(t, "vipauth/consent-as?open_id=OPEN2")
	b := r.start(nil, append([]string{"authorize", "--oob"}, vip...)...)
	require.Contains(t, b.line(t, 30*time.Second), "open this URL")
	u := b.line(t, 5*time.Second)
	resp, err = http.Get(u)
	require.NoError(t, err)
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`<code id="code">([^<]+)</code>`).FindSubmatch(page)
	require.NotNil(t, m, "the oob page shows the code: %s", page)
	_, err = io.WriteString(b.stdin, string(m[1])+"\n")
	require.NoError(t, err)
	require.Equal(t, exitOK, b.wait(30*time.Second), "stderr: %s", b.stderr.String())
	res = r.run(nil, append([]string{"inspect", "OPEN2"}, vip...)...)
	require.Equal(t, exitOK, res.code, "%s", res)

	// refresh cannot renew a vip.com token: a person must authorize again.
	res = r.run(nil, append([]string{"refresh", "OPEN1"}, vip...)...)
	assert.Equal(t, exitReauthorize, res.code, "%s", res)

	before := em.stats(t, "vipauth")["APICalls"]
	res = r.run(nil, append([]string{"revoke", "OPEN2"}, vip...)...)
	require.Equal(t, exitOK, res.code, "%s", res)
	assert.Equal(t, before+1, em.stats(t, "vipauth")["APICalls"], "one revoke_token call")
	res = r.run(nil, append([]string{"inspect", "OPEN2"}, vip...)...)
	assert.Equal(t, exitNotFound, res.code, "removed from the store: %s", res)
	var list struct {
		Count int          `json:"count"`
		Shops []*tokenView `json:"shops"`
	}
	res = r.run(nil, append([]string{"list", "--needs-authorization", "--json"}, vip...)...)
	res.json(t, &list)
	require.Equal(t, 2, list.Count, "the revoked user, and the one refresh found unrenewable: %s", res.stdout)
	res = r.run(nil, append([]string{"revoke", "OPEN2"}, vip...)...)
	assert.Equal(t, exitNotFound, res.code, "%s", res)
	res = r.run(nil, append([]string{"authorize", "--oob"}, vip...)...) // no code on standard input
	assert.Equal(t, exitUsage, res.code, "%s", res)
	testkit.NoSecret(t, "the command's output", append(storedSecrets(t, rdb, p), emulatorSecret), r.outputs...)
}

// TestE2E_youzanToolApp: a Youzan tool app's code, from the environment, exchanged and stored;
// its rotating refresh token then refreshes through the lease.
func TestE2E_youzanToolApp(t *testing.T) {
	rdb := needRedis(t)
	t.Parallel()
	r := newRunner(t, secretEnv...)
	em := emulate(t, r, "youzan")
	p := prefix(t, rdb)
	yz := append(youzanFlags(em, p), "--tool", "--redirect-url", "https://isv.example.com/yz/callback")
	code := em.control(t, "youzan/code?grant=3001")["code"].(string)
	res := r.run([]string{"SHOPTOKEN_AUTH_CODE=" + code}, append([]string{"authorize", "--json"}, yz...)...)
	require.Equal(t, exitOK, res.code, "%s", res)
	res = r.run([]string{"SHOPTOKEN_AUTH_CODE=" + code}, append([]string{"authorize"}, yz...)...)
	assert.Equal(t, exitReauthorize, res.code, "a code is single use: %s", res)
	res = r.run(nil, append([]string{"refresh", "3001"}, yz...)...)
	require.Equal(t, exitOK, res.code, "%s", res)
	assert.Zero(t, em.stats(t, "youzan")["DeadRefreshUsed"])
	res = r.run(nil, append([]string{"authorize"}, youzanFlags(em, p)...)...)
	assert.Equal(t, exitUsage, res.code, "a self-use app needs no person: %s", res)
	testkit.NoSecret(t, "the command's output", append(storedSecrets(t, rdb, p), emulatorSecret, code), r.outputs...)
}

func jsonLine(line string, v any) error { return json.Unmarshal([]byte(line), v) }

// pgUp reports whether the test PostgreSQL answers.
func pgUp() bool {
	conn, err := net.DialTimeout("tcp", "127.0.0.1:5432", 2*time.Second)
	if err != nil {
		return false
	}
	_ = conn.Close()
	return true
}

// dropTables drops the sqlstore tables of prefix tp in the test PostgreSQL.
func dropTables(tp string) {
	db, err := sql.Open("pgx", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	if err != nil {
		return
	}
	defer db.Close()
	_, _ = db.ExecContext(context.Background(), fmt.Sprintf("DROP TABLE IF EXISTS %[1]stokens, %[1]sleases, %[1]sdue", tp))
}

var _ = strconv.Itoa
