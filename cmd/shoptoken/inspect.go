package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/shoptoken/shoptoken"
)

// leaseReader is the read-only lease capability of redisstore and sqlstore.
type leaseReader interface {
	LeaseInfo(ctx context.Context, key string) (owner string, expires time.Time, err error)
}

// tokenView is a stored token as the command shows it: its secrets redacted by shoptoken's own
// printing (Token.LogValue), its times, and the engine's plan for it.
type tokenView struct {
	Key           string     `json:"key"`
	Platform      string     `json:"platform"`
	App           string     `json:"app"`
	Shop          string     `json:"shop"`
	Version       int64      `json:"version,omitempty"`
	AccessToken   string     `json:"access_token,omitempty"`
	RefreshToken  string     `json:"refresh_token,omitempty"`
	TokenType     string     `json:"token_type,omitempty"`
	Subject       string     `json:"subject,omitempty"`
	Scopes        int        `json:"scopes,omitempty"`
	IssuedAt      *time.Time `json:"issued_at,omitempty"`
	Expiry        *time.Time `json:"expiry,omitempty"`
	RefreshExpiry *time.Time `json:"refresh_expiry,omitempty"`
	GrantEnd      *time.Time `json:"grant_end,omitempty"`
	NextRefresh   *time.Time `json:"next_refresh,omitempty"`
	State         string     `json:"state"`
	Lease         *leaseView `json:"lease,omitempty"`
	Failure       *failView  `json:"last_failure,omitempty"`
}

type leaseView struct {
	Held    bool       `json:"held"`
	Owner   string     `json:"owner,omitempty"`
	Expires *time.Time `json:"expires,omitempty"`
}

type failView struct {
	At      time.Time `json:"at"`
	Kind    string    `json:"kind"`
	Message string    `json:"message,omitempty"`
	Stale   bool      `json:"stale,omitempty"`
}

func (c *cli) inspectCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "inspect SHOP",
		Short: "Show a shop's stored token, redacted, with its plan and who holds its lease",
		Long: `inspect reads SHOP's token from the store and shows it redacted: version, issue time, expiry,
grant end, the next planned refresh (the engine's own rule, as a Cache holding the token plans it),
who holds the refresh lease (Redis and SQL stores), and the shop's last recorded failure. It changes
nothing and calls no platform. Exit 2 when the store holds no token for SHOP.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := c.withTimeout(cmd.Context())
			defer cancel()
			e, err := c.open(ctx, true)
			if err != nil {
				return err
			}
			defer e.close()
			defer c.reportTrips()
			a := e.apps[0]
			v, err := inspect(ctx, a, args[0], e.now())
			if err != nil {
				return err
			}
			return c.out(v, func(w io.Writer) { v.print(w) })
		},
	}
}

// now is the time by the verb's clock.
func (e *env) now() time.Time {
	if e.clock != nil {
		return e.clock.Now()
	}
	return time.Now()
}

func inspect(ctx context.Context, a *appRT, shop string, now time.Time) (*tokenView, error) {
	k := a.app.Key(shop)
	if err := k.Check(); err != nil {
		return nil, usagef("shop %q: %v", shop, err)
	}
	key := k.String()
	tok, ver, err := a.store.store.Load(ctx, key)
	var fail *shoptoken.Failure
	if fi, ok := a.store.store.(shoptoken.FailureIndex); ok {
		fs, ferr := fi.Failures(ctx, a.app.Namespace())
		if ferr != nil && err == nil {
			err = ferr
		}
		for i := range fs {
			if fs[i].Key == key {
				fail = &fs[i]
			}
		}
	}
	if errors.Is(err, shoptoken.ErrNotFound) {
		if fail != nil {
			return nil, notFoundf("%s: no stored token (last failure %s at %s: %s)", key, fail.Kind, fail.At.Format(time.RFC3339), fail.Message)
		}
		return nil, notFoundf("%s: no stored token", key)
	}
	if err != nil {
		return nil, err
	}
	v := view(a, k, tok, ver, fail, now)
	if lr, ok := a.store.store.(leaseReader); ok {
		owner, exp, err := lr.LeaseInfo(ctx, key)
		if err != nil {
			return nil, err
		}
		v.Lease = &leaseView{Held: owner != "", Owner: owner, Expires: tp(exp)}
	}
	return v, nil
}

// view describes tok, a token of a's shop k, and its state at now.
func view(a *appRT, k shoptoken.Key, tok *shoptoken.Token, ver int64, fail *shoptoken.Failure, now time.Time) *tokenView {
	v := &tokenView{Key: k.String(), Platform: k.Platform, App: k.App, Shop: k.Shop, Version: ver, State: "missing"}
	if tok != nil {
		red := redacted(tok)
		v.AccessToken, v.RefreshToken = red["access_token"], red["refresh_token"]
		v.TokenType, v.Subject, v.Scopes = tok.TokenType, tok.Subject, len(tok.Scope)
		v.IssuedAt, v.Expiry, v.RefreshExpiry = tp(tok.IssuedAt), tp(tok.Expiry), tp(tok.RefreshExpiry)
		v.GrantEnd = tp(grantEnd(tok))
		v.NextRefresh = tp(a.app.Due(tok))
		v.State = "ok"
		if !tok.Expiry.IsZero() && !now.Before(tok.Expiry) {
			v.State = "expired"
		}
	}
	if fail != nil {
		stale := fail.Stale(tok)
		v.Failure = &failView{At: fail.At, Kind: fail.Kind, Message: fail.Message, Stale: stale}
		if !stale {
			v.State = "failing"
			if fail.Permanent() {
				v.State = "needs-authorization"
			}
		}
	}
	return v
}

// redacted returns the token's secrets as shoptoken prints them (a short prefix, "…", the length).
func redacted(tok *shoptoken.Token) map[string]string {
	out := map[string]string{}
	for _, a := range tok.LogValue().Group() {
		if a.Value.Kind() == slog.KindString {
			out[a.Key] = a.Value.String()
		}
	}
	return out
}

// grantEnd is when tok's grant lapses, as the engine reads it: RefreshExpiry, or Expiry for a
// token that cannot be refreshed; zero when unknown.
func grantEnd(tok *shoptoken.Token) time.Time {
	if tok.RefreshExpiry.IsZero() && tok.RefreshToken == "" {
		return tok.Expiry
	}
	return tok.RefreshExpiry
}

func tp(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func (v *tokenView) print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, val string) {
		if val != "" {
			fmt.Fprintf(tw, "%s\t%s\n", k, val)
		}
	}
	row("key", v.Key)
	row("state", v.State)
	if v.Version != 0 {
		row("version", fmt.Sprint(v.Version))
	}
	row("access token", v.AccessToken)
	row("refresh token", v.RefreshToken)
	row("type", v.TokenType)
	row("subject", v.Subject)
	if v.Scopes > 0 {
		row("scopes", fmt.Sprint(v.Scopes))
	}
	row("issued", when(v.IssuedAt))
	row("expires", when(v.Expiry))
	row("refresh expires", when(v.RefreshExpiry))
	row("grant ends", when(v.GrantEnd))
	if v.NextRefresh != nil {
		row("next refresh", when(v.NextRefresh))
	} else if v.Expiry != nil || v.RefreshExpiry != nil {
		row("next refresh", "none planned")
	}
	if v.Lease != nil {
		if v.Lease.Held {
			row("lease", "held by "+v.Lease.Owner+" until "+when(v.Lease.Expires))
		} else {
			row("lease", "free")
		}
	}
	if f := v.Failure; f != nil {
		s := f.Kind + " at " + f.At.Format(time.RFC3339)
		if f.Message != "" {
			s += ": " + f.Message
		}
		if f.Stale {
			s += " (older than the token: superseded)"
		}
		row("last failure", s)
	}
	_ = tw.Flush()
}

func when(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.Format(time.RFC3339)
}

var _ = strings.TrimSpace
