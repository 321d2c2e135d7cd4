package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func main() {
	// go-redis logs its connection failures to the process's standard error by itself; the
	// command reports every failure once, through its own errors.
	redis.SetLogger(quietRedis{})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], sys{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv})
	stop()
	os.Exit(code)
}

// sys is what the command takes from its process: streams and environment. Tests run the command
// in-process with their own.
type sys struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
}

// cli holds the global flags and what the verbs share.
type cli struct {
	sys
	configPath string
	platform   string
	app        string
	jsonOut    bool
	verbose    bool
	timeout    time.Duration

	// A store given on the command line or in the environment replaces the config file's.
	redisAddr  string
	prefix     string
	storeDir   string
	sqlDialect string
	baseURL    string
	tool       bool
	redirect   string

	// Hidden: a simulated clock for measurements (see clock.go), and a count of Redis round trips.
	clockSpeed float64
	clockEpoch int64
	countTrips bool
	trips      atomic.Int64

	refused map[string]*string // secret flags, refused when given
	log     *slog.Logger       // set by keeper: every App logs JSON to it
}

// secretFlags are flags a user might try for a secret. They exist only to be refused with an
// explanation: a command line shows in ps and in shell history.
var secretFlags = map[string]string{
	"client-secret":  "SHOPTOKEN_<PLATFORM>_CLIENT_SECRET or client_secret_file",
	"secret":         "SHOPTOKEN_<PLATFORM>_CLIENT_SECRET or client_secret_file",
	"vekey":          "SHOPTOKEN_VEAPI_VEKEY or vekey_file",
	"redis-password": "SHOPTOKEN_REDIS_PASSWORD or password_file",
	"password":       "SHOPTOKEN_REDIS_PASSWORD or password_file",
	"sql-dsn":        "SHOPTOKEN_SQL_DSN or dsn_file",
	"dsn":            "SHOPTOKEN_SQL_DSN or dsn_file",
	"code":           "SHOPTOKEN_AUTH_CODE or standard input",
}

// run runs the command with args and returns its exit code.
func run(ctx context.Context, args []string, s sys) int {
	c := &cli{sys: s, refused: map[string]*string{}}
	root := c.rootCommand()
	root.SetArgs(args)
	root.SetIn(s.stdin)
	root.SetOut(s.stdout)
	root.SetErr(s.stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	code := exitCode(err)
	if strings.HasPrefix(err.Error(), "unknown ") || strings.Contains(err.Error(), "flag") && code == exitFailed {
		code = exitUsage // cobra's own errors: unknown command or flag, bad flag value
	}
	fmt.Fprintf(s.stderr, "shoptoken: %v\n", err)
	if c.jsonOut {
		_ = json.NewEncoder(s.stdout).Encode(map[string]any{"error": map[string]any{
			"message": err.Error(), "kind": kindName(err), "exit": code}})
	}
	return code
}

func (c *cli) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "shoptoken",
		Short: "Inspect, refresh and keep the tokens of many shops on Youzan, vip.com and veapi",
		Long: `shoptoken operates the tokens an ISV keeps with the shoptoken SDK: it shows a shop's stored
token (redacted) and its plan, lists shops by state, refreshes, revokes and authorizes, runs the
Keeper as a service, and serves the platform emulators for tests.

Configuration: flags, then SHOPTOKEN_* environment variables, then the config file (--config,
SHOPTOKEN_CONFIG). Secrets are read only from environment variables or files, never from flags.

Exit codes: 0 ok, 1 usage or configuration, 2 not found, 3 needs authorization, 4 platform or
store unavailable, 5 app credentials refused, 6 other failure.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			for name, where := range secretFlags {
				if cmd.Flags().Changed(name) {
					return usagef("--%s: secrets are never taken from flags (a command line shows in ps and in shell history); use %s", name, where)
				}
			}
			return c.fromEnv(cmd.Flags())
		},
	}
	f := root.PersistentFlags()
	f.StringVarP(&c.configPath, "config", "c", "", "config file (YAML) [SHOPTOKEN_CONFIG]")
	f.StringVar(&c.platform, "platform", "", "platform of the app: youzan, vipauth, veapi [SHOPTOKEN_PLATFORM]")
	f.StringVar(&c.app, "app", "", "app id: client_id, or the veapi account's name [SHOPTOKEN_APP]")
	f.BoolVar(&c.jsonOut, "json", false, "print JSON for scripts")
	f.BoolVarP(&c.verbose, "verbose", "v", false, "log the SDK's events to standard error")
	f.DurationVar(&c.timeout, "timeout", 60*time.Second, "give up after this long (not for keeper and emulate)")
	f.StringVar(&c.redisAddr, "redis", "", "Redis address host:port, replacing the config's store [SHOPTOKEN_REDIS_ADDR]")
	f.StringVar(&c.prefix, "prefix", "", "key prefix of the store given by --redis or --sql-dialect [SHOPTOKEN_PREFIX]")
	f.StringVar(&c.storeDir, "store-dir", "", "a filestore directory, replacing the config's store [SHOPTOKEN_STORE_DIR]")
	f.StringVar(&c.sqlDialect, "sql-dialect", "", "postgres or mysql: a SQL store whose DSN is in SHOPTOKEN_SQL_DSN [SHOPTOKEN_SQL_DIALECT]")
	f.StringVar(&c.baseURL, "base-url", "", "platform base URL of a single app given by flags (an emulator) [SHOPTOKEN_BASE_URL]")
	f.BoolVar(&c.tool, "tool", false, "a Youzan tool app (authorization code) given by flags")
	f.StringVar(&c.redirect, "redirect-url", "", "redirect URL of a single app given by flags [SHOPTOKEN_REDIRECT_URL]")
	f.Float64Var(&c.clockSpeed, "clock-speed", 0, "run a simulated clock this many times faster than real time (measurements)")
	f.Int64Var(&c.clockEpoch, "clock-epoch", 0, "Unix seconds at which the simulated clock equals real time (with --clock-speed)")
	f.BoolVar(&c.countTrips, "count-round-trips", false, "print the Redis round trips made to standard error at the end")
	for _, h := range []string{"clock-speed", "clock-epoch", "count-round-trips"} {
		_ = f.MarkHidden(h)
	}
	for name := range secretFlags {
		v := new(string)
		c.refused[name] = v
		f.StringVar(v, name, "", "refused: secrets come from the environment or files")
		_ = f.MarkHidden(name)
	}
	root.AddCommand(c.inspectCommand(), c.listCommand(), c.refreshCommand(), c.revokeCommand(),
		c.authorizeCommand(), c.keeperCommand(), c.emulateCommand())
	return root
}

// fromEnv fills the flags not given from their SHOPTOKEN_* environment variables.
func (c *cli) fromEnv(fs *pflag.FlagSet) error {
	for flag, env := range map[string]string{
		"config": "SHOPTOKEN_CONFIG", "platform": "SHOPTOKEN_PLATFORM", "app": "SHOPTOKEN_APP",
		"redis": "SHOPTOKEN_REDIS_ADDR", "prefix": "SHOPTOKEN_PREFIX", "store-dir": "SHOPTOKEN_STORE_DIR",
		"sql-dialect": "SHOPTOKEN_SQL_DIALECT", "base-url": "SHOPTOKEN_BASE_URL", "redirect-url": "SHOPTOKEN_REDIRECT_URL",
	} {
		if fs.Changed(flag) {
			continue
		}
		if v := c.getenv(env); v != "" {
			if err := fs.Set(flag, v); err != nil {
				return usagef("%s: %v", env, err)
			}
		}
	}
	return nil
}

// logger returns the logger of the verbs other than keeper: nothing, or text to standard error.
func (c *cli) logger() *slog.Logger {
	if c.log != nil {
		return c.log
	}
	if !c.verbose {
		return nil
	}
	return slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// out prints v as JSON with --json, else human text made by text.
func (c *cli) out(v any, text func(w io.Writer)) error {
	if c.jsonOut {
		enc := json.NewEncoder(c.stdout)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	text(c.stdout)
	return nil
}

// withTimeout bounds a verb by --timeout.
func (c *cli) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if c.timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, c.timeout)
}

// reportTrips prints the Redis round trips counted, with --count-round-trips.
func (c *cli) reportTrips() {
	if c.countTrips {
		fmt.Fprintf(c.stderr, "redis round trips: %s\n", strconv.FormatInt(c.trips.Load(), 10))
	}
}

type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}
