package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
)

// fileConfig is the config file (YAML): the store every app shares unless it names its own, and
// the apps, one per platform and app id. It never holds a secret: credentials are given by
// reference (a file, or an environment variable), and a secret written into it is refused.
type fileConfig struct {
	Store *storeConfig `yaml:"store"`
	Apps  []appConfig  `yaml:"apps"`
}

// storeConfig names one store: Redis, SQL or a directory. Exactly one of the three.
type storeConfig struct {
	Redis *redisConfig `yaml:"redis"`
	SQL   *sqlConfig   `yaml:"sql"`
	File  *fileStore   `yaml:"file"`
}

type redisConfig struct {
	Addr         string `yaml:"addr"`
	Prefix       string `yaml:"prefix"` // the key prefix (redisstore.WithPrefix); "" keeps "shoptoken:"
	DB           int    `yaml:"db"`
	Username     string `yaml:"username"`
	PasswordFile string `yaml:"password_file"`
	PasswordEnv  string `yaml:"password_env"` // default SHOPTOKEN_REDIS_PASSWORD
	Password     string `yaml:"password"`     // refused: a secret
}

type sqlConfig struct {
	Dialect      string `yaml:"dialect"` // postgres or mysql
	DSNFile      string `yaml:"dsn_file"`
	DSNEnv       string `yaml:"dsn_env"` // default SHOPTOKEN_SQL_DSN
	DSN          string `yaml:"dsn"`     // only without a password
	Prefix       string `yaml:"prefix"`  // table prefix (sqlstore.WithPrefix); "" keeps "shoptoken_"
	CreateTables bool   `yaml:"create_tables"`
}

type fileStore struct {
	Dir string `yaml:"dir"`
}

// appConfig is one app on one platform.
type appConfig struct {
	Platform string `yaml:"platform"` // youzan, vipauth, veapi
	App      string `yaml:"app"`      // client_id (youzan, vipauth) or the veapi account's public name
	// Tool makes a Youzan app a tool app (authorization code, rotating refresh tokens) instead of
	// a self-use app (silent authorization).
	Tool        bool   `yaml:"tool"`
	RedirectURL string `yaml:"redirect_url"` // vipauth; Youzan tool apps (the code exchange)
	BaseURL     string `yaml:"base_url"`     // the platform's base URL (an emulator, a proxy)
	AllowHTTP   bool   `yaml:"allow_http"`

	ClientSecretFile string `yaml:"client_secret_file"`
	ClientSecretEnv  string `yaml:"client_secret_env"` // default SHOPTOKEN_<PLATFORM>_CLIENT_SECRET
	VEKeyFile        string `yaml:"vekey_file"`
	VEKeyEnv         string `yaml:"vekey_env"`     // default SHOPTOKEN_VEAPI_VEKEY
	ClientSecret     string `yaml:"client_secret"` // refused: a secret
	VEKey            string `yaml:"vekey"`         // refused: a secret

	Store *storeConfig `yaml:"store"` // nil: the top-level store
}

var platforms = []string{"youzan", "vipauth", "veapi"}

// loadConfig reads and checks the config file at path.
func loadConfig(path string) (*fileConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, usagef("config: %v", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var fc fileConfig
	if err := dec.Decode(&fc); err != nil && !errors.Is(err, io.EOF) {
		return nil, usagef("config %s: %v", path, err)
	}
	return &fc, fc.check(path)
}

func (fc *fileConfig) check(path string) error {
	if err := fc.Store.check(path + ": store"); err != nil {
		return err
	}
	seen := map[string]bool{}
	for i, a := range fc.Apps {
		where := fmt.Sprintf("%s: apps[%d]", path, i)
		if !contains(platforms, a.Platform) {
			return usagef("%s: platform %q is not one of %s", where, a.Platform, strings.Join(platforms, ", "))
		}
		if strings.TrimSpace(a.App) == "" {
			return usagef("%s: app is empty", where)
		}
		if a.ClientSecret != "" || a.VEKey != "" {
			return usagef("%s: a secret written in the config file; name a file (client_secret_file, vekey_file) or an environment variable (client_secret_env, vekey_env) instead", where)
		}
		if a.Tool && a.Platform != "youzan" {
			return usagef("%s: tool is for Youzan apps only", where)
		}
		if err := a.Store.check(where + ": store"); err != nil {
			return err
		}
		id := a.Platform + "/" + a.App
		if seen[id] {
			return usagef("%s: %s is listed twice", where, id)
		}
		seen[id] = true
	}
	return nil
}

func (sc *storeConfig) check(where string) error {
	if sc == nil {
		return nil
	}
	n := 0
	if sc.Redis != nil {
		n++
		if sc.Redis.Addr == "" {
			return usagef("%s: redis: addr is empty", where)
		}
		if sc.Redis.Password != "" {
			return usagef("%s: redis: a password written in the config file; use password_file or password_env", where)
		}
	}
	if sc.SQL != nil {
		n++
		if sc.SQL.Dialect != "postgres" && sc.SQL.Dialect != "mysql" {
			return usagef("%s: sql: dialect %q is neither postgres nor mysql", where, sc.SQL.Dialect)
		}
		if dsnHasPassword(sc.SQL.DSN) {
			return usagef("%s: sql: a DSN with a password written in the config file; use dsn_file or dsn_env", where)
		}
	}
	if sc.File != nil {
		n++
		if sc.File.Dir == "" {
			return usagef("%s: file: dir is empty", where)
		}
	}
	if n != 1 {
		return usagef("%s: name exactly one of redis, sql and file", where)
	}
	return nil
}

// dsnHasPassword reports a DSN that carries a password: a URL with one in its user information,
// a key=value DSN with password=, or a MySQL DSN user:password@.
func dsnHasPassword(dsn string) bool {
	if dsn == "" {
		return false
	}
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			return true
		}
	}
	if strings.Contains(strings.ToLower(dsn), "password=") {
		return true
	}
	if at := strings.LastIndex(dsn, "@"); at > 0 && !strings.Contains(dsn, "://") {
		return strings.Contains(dsn[:at], ":")
	}
	return false
}

// secret reads a secret by reference: the file if one is named, else the environment variable
// env (or def when env is empty). Surrounding white space (a file's final newline) is trimmed.
func secret(getenv func(string) string, what, file, env, def string) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", usagef("%s: %v", what, err)
		}
		if s := strings.TrimSpace(string(b)); s != "" {
			return s, nil
		}
		return "", usagef("%s: the file %s is empty", what, file)
	}
	if env == "" {
		env = def
	}
	if s := strings.TrimSpace(getenv(env)); s != "" {
		return s, nil
	}
	return "", usagef("%s: not set: give it in the environment variable %s or in a file (the config's %s_file)", what, env, strings.ReplaceAll(what, " ", "_"))
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
