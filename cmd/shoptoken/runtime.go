package main

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"strings"
	"time"

	_ "github.com/go-sql-driver/mysql" // sqlstore's MySQL and MariaDB
	_ "github.com/jackc/pgx/v5/stdlib" // sqlstore's PostgreSQL
	"github.com/redis/go-redis/v9"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/filestore"
	"github.com/shoptoken/shoptoken/redisstore"
	"github.com/shoptoken/shoptoken/shops"
	"github.com/shoptoken/shoptoken/sqlstore"
	"github.com/shoptoken/shoptoken/veapi"
	"github.com/shoptoken/shoptoken/vipauth"
	"github.com/shoptoken/shoptoken/youzan"
)

// env is what a verb works with: the configured apps, built, and their stores. close releases
// them; shutdown waits for refreshes under way and unsaved tokens first.
type env struct {
	c      *cli
	apps   []*appRT
	stores map[string]*openStore
	clock  shoptoken.Clock
}

type openStore struct {
	desc  string
	store shoptoken.Store
	close func()
}

// appRT is one configured app, built.
type appRT struct {
	cfg   appConfig
	app   *shops.App
	store *openStore
	set   func(ctx context.Context, shop string, tok *shoptoken.Token) error

	yz  youzan.Config  // youzan
	vip vipauth.Config // vipauth
}

func (a *appRT) name() string { return a.cfg.Platform + "/" + a.cfg.App }

// appConfigs returns the apps to build: the config file's, or one app given by flags.
func (c *cli) appConfigs() ([]appConfig, *storeConfig, error) {
	var fc fileConfig
	if c.configPath != "" {
		loaded, err := loadConfig(c.configPath)
		if err != nil {
			return nil, nil, err
		}
		fc = *loaded
	}
	if len(fc.Apps) == 0 {
		if c.platform == "" || c.app == "" {
			return nil, nil, usagef("no app configured: give --config, or --platform and --app")
		}
		fc.Apps = []appConfig{{Platform: c.platform, App: c.app, Tool: c.tool, RedirectURL: c.redirect}}
		if err := fc.check("flags"); err != nil {
			return nil, nil, err
		}
	}
	if c.baseURL != "" {
		for i := range fc.Apps {
			fc.Apps[i].BaseURL = c.baseURL
		}
	}
	if c.redirect != "" {
		for i := range fc.Apps {
			fc.Apps[i].RedirectURL = c.redirect
		}
	}
	st := fc.Store
	switch {
	case c.redisAddr != "":
		st = &storeConfig{Redis: &redisConfig{Addr: c.redisAddr, Prefix: c.prefix}}
	case c.sqlDialect != "":
		st = &storeConfig{SQL: &sqlConfig{Dialect: c.sqlDialect, Prefix: c.prefix}}
	case c.storeDir != "":
		st = &storeConfig{File: &fileStore{Dir: c.storeDir}}
	}
	if c.redisAddr != "" || c.sqlDialect != "" || c.storeDir != "" {
		for i := range fc.Apps {
			fc.Apps[i].Store = nil // the command line's store serves every app
		}
	}
	if err := st.check("store"); err != nil {
		return nil, nil, err
	}
	return fc.Apps, st, nil
}

// selected returns the apps a verb acts on: those matching --platform and --app.
func selected(all []appConfig, platform, app string) []appConfig {
	var out []appConfig
	for _, a := range all {
		if (platform == "" || a.Platform == platform) && (app == "" || a.App == app) {
			out = append(out, a)
		}
	}
	return out
}

// open builds the apps the verb acts on (one when one is set, every match otherwise), with opts.
func (c *cli) open(ctx context.Context, one bool, opts ...shops.Option) (*env, error) {
	all, st, err := c.appConfigs()
	if err != nil {
		return nil, err
	}
	picked := selected(all, c.platform, c.app)
	if len(picked) == 0 {
		return nil, notFoundf("no configured app matches --platform %q --app %q", c.platform, c.app)
	}
	if one && len(picked) > 1 {
		names := make([]string, len(picked))
		for i, a := range picked {
			names[i] = a.Platform + "/" + a.App
		}
		return nil, usagef("%d apps are configured (%s): say which with --platform and --app", len(picked), strings.Join(names, ", "))
	}
	e := &env{c: c, stores: map[string]*openStore{}, clock: c.clock()}
	for _, ac := range picked {
		sc := ac.Store
		if sc == nil {
			sc = st
		}
		if sc == nil {
			e.close()
			return nil, usagef("%s/%s: no store: configure one (store: in the config file, --redis, --sql-dialect or --store-dir)", ac.Platform, ac.App)
		}
		os, err := e.openStore(ctx, sc)
		if err != nil {
			e.close()
			return nil, err
		}
		a, err := e.build(ac, os, opts)
		if err != nil {
			e.close()
			return nil, err
		}
		e.apps = append(e.apps, a)
	}
	return e, nil
}

func (e *env) openStore(ctx context.Context, sc *storeConfig) (*openStore, error) {
	c := e.c
	switch {
	case sc.Redis != nil:
		r := sc.Redis
		desc := fmt.Sprintf("redis %s db %d prefix %q", r.Addr, r.DB, r.Prefix)
		if s := e.stores[desc]; s != nil {
			return s, nil
		}
		pw := ""
		if r.PasswordFile != "" || c.getenv(orDefault(r.PasswordEnv, "SHOPTOKEN_REDIS_PASSWORD")) != "" {
			var err error
			if pw, err = secret(c.getenv, "redis password", r.PasswordFile, r.PasswordEnv, "SHOPTOKEN_REDIS_PASSWORD"); err != nil {
				return nil, err
			}
		}
		rdb := redis.NewClient(&redis.Options{Addr: r.Addr, DB: r.DB, Username: r.Username, Password: pw,
			ClientName: "shoptoken-cli", DialTimeout: 3 * time.Second, MaxRetries: 1})
		if c.countTrips {
			rdb.AddHook(tripHook{&c.trips})
		}
		var opts []redisstore.Option
		if r.Prefix != "" {
			opts = append(opts, redisstore.WithPrefix(r.Prefix))
		}
		s := redisstore.New(rdb, opts...)
		os := &openStore{desc: desc, store: s, close: func() { _ = s.Close(); _ = rdb.Close() }}
		e.stores[desc] = os
		return os, nil
	case sc.SQL != nil:
		q := sc.SQL
		dsn := q.DSN
		if dsn == "" || q.DSNFile != "" || c.getenv(orDefault(q.DSNEnv, "SHOPTOKEN_SQL_DSN")) != "" {
			var err error
			if dsn, err = secret(c.getenv, "sql dsn", q.DSNFile, q.DSNEnv, "SHOPTOKEN_SQL_DSN"); err != nil {
				return nil, err
			}
		}
		desc := fmt.Sprintf("sql %s prefix %q %x", q.Dialect, q.Prefix, shortHash(dsn))
		if s := e.stores[desc]; s != nil {
			return s, nil
		}
		driver, dialect := "pgx", sqlstore.Postgres
		if q.Dialect == "mysql" {
			driver, dialect = "mysql", sqlstore.MySQL
			if !strings.Contains(dsn, "interpolateParams") {
				dsn += sep(dsn) + "interpolateParams=true"
			}
			if !strings.Contains(dsn, "timeout=") {
				dsn += "&timeout=3s"
			}
		}
		db, err := sql.Open(driver, dsn)
		if err != nil {
			return nil, usagef("sql dsn: %v", err) // never quotes the DSN: it may hold a password
		}
		opts := []sqlstore.Option{}
		if q.Prefix != "" {
			opts = append(opts, sqlstore.WithPrefix(q.Prefix))
		}
		if q.CreateTables {
			opts = append(opts, sqlstore.WithCreateTables())
		}
		s, err := sqlstore.New(ctx, db, dialect, opts...)
		if err != nil {
			_ = db.Close()
			return nil, err
		}
		os := &openStore{desc: desc, store: s, close: func() { _ = s.Close(); _ = db.Close() }}
		e.stores[desc] = os
		return os, nil
	default:
		desc := "file " + sc.File.Dir
		if s := e.stores[desc]; s != nil {
			return s, nil
		}
		s, err := filestore.New(sc.File.Dir)
		if err != nil {
			return nil, usagef("store: %v", err)
		}
		os := &openStore{desc: desc, store: s, close: func() {}}
		e.stores[desc] = os
		return os, nil
	}
}

// build makes the platform's App for ac on store os.
func (e *env) build(ac appConfig, os *openStore, opts []shops.Option) (*appRT, error) {
	c := e.c
	all := append([]shops.Option{shops.WithStore(os.store)}, opts...)
	log := c.logger()
	a := &appRT{cfg: ac, store: os}
	def := "SHOPTOKEN_" + strings.ToUpper(ac.Platform) + "_CLIENT_SECRET"
	switch ac.Platform {
	case "youzan":
		sec, err := secret(c.getenv, "client secret", ac.ClientSecretFile, ac.ClientSecretEnv, def)
		if err != nil {
			return nil, err
		}
		a.yz = youzan.Config{ClientID: ac.App, ClientSecret: sec, BaseURL: ac.BaseURL, AllowHTTP: ac.AllowHTTP,
			Logger: log, Clock: e.clock}
		newApp := youzan.NewApp
		if ac.Tool {
			newApp = youzan.NewToolApp
		}
		yz, err := newApp(a.yz, all...)
		if err != nil {
			return nil, err
		}
		a.app, a.set = yz.App, yz.Set
	case "vipauth":
		// The secret is needed only to exchange codes (authorize); the other verbs run without it.
		sec, _ := secret(c.getenv, "client secret", ac.ClientSecretFile, ac.ClientSecretEnv, def)
		a.vip = vipauth.Config{ClientID: ac.App, ClientSecret: sec, RedirectURL: ac.RedirectURL, BaseURL: ac.BaseURL,
			AllowHTTP: ac.AllowHTTP, Logger: log, Clock: e.clock}
		if ac.ClientSecretFile != "" && sec == "" {
			_, err := secret(c.getenv, "client secret", ac.ClientSecretFile, "", def)
			return nil, err
		}
		vip, err := vipauth.NewApp(a.vip, all...)
		if err != nil {
			return nil, err
		}
		a.app, a.set = vip.App, vip.Set
	case "veapi":
		key, err := secret(c.getenv, "vekey", ac.VEKeyFile, ac.VEKeyEnv, "SHOPTOKEN_VEAPI_VEKEY")
		if err != nil {
			return nil, err
		}
		ve, err := veapi.NewApp(veapi.Config{VEKey: key, App: ac.App, BaseURL: ac.BaseURL, Logger: log, Clock: e.clock}, all...)
		if err != nil {
			return nil, err
		}
		a.app, a.set = ve.App, ve.Set
	}
	return a, nil
}

// close closes every App and store without waiting.
func (e *env) close() {
	for _, a := range e.apps {
		a.app.Close()
	}
	e.closeStores()
}

func (e *env) closeStores() {
	descs := make([]string, 0, len(e.stores))
	for d := range e.stores {
		descs = append(descs, d)
	}
	sort.Strings(descs)
	for _, d := range descs {
		e.stores[d].close()
	}
}

// shutdown waits, until ctx ends, for every App's refreshes under way and unsaved tokens, then
// closes the stores.
func (e *env) shutdown(ctx context.Context) error {
	var errs []error
	for _, a := range e.apps {
		if err := a.app.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", a.name(), err))
		}
	}
	e.closeStores()
	if len(errs) > 0 {
		return errs[0]
	}
	return nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func sep(dsn string) string {
	if strings.Contains(dsn, "?") {
		return "&"
	}
	return "?"
}

// shortHash tells DSNs apart in a store's description without quoting them.
func shortHash(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint32(s[i])) * 16777619
	}
	return h
}

// tripHook counts Redis round trips: a command alone is one, a pipeline is one.
type tripHook struct{ n interface{ Add(int64) int64 } }

func (h tripHook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) { return next(ctx, network, addr) }
}

func (h tripHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if n := cmd.Name(); n != "hello" && n != "client" && n != "auth" && n != "select" {
			h.n.Add(1)
		}
		return next(ctx, cmd)
	}
}

func (h tripHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if len(cmds) > 0 && cmds[0].Name() != "hello" && cmds[0].Name() != "client" {
			h.n.Add(1)
		}
		return next(ctx, cmds)
	}
}

var _ = slog.LevelInfo
