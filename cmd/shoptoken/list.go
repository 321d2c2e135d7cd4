package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/shoptoken/shoptoken"
)

// farFuture asks a due index for every key it holds.
var farFuture = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

func (c *cli) listCommand() *cobra.Command {
	var expiring time.Duration
	var needsAuth, failing bool
	var limit int
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List shops by state: expiring, needing authorization, failing",
		Long: `list shows the shops of every configured app (or of --platform/--app) with their state.

  --expiring 72h          shops whose token expires or whose grant ends within 72h
  --needs-authorization   shops whose grant is gone or refused (a person must authorize again)
  --failing               shops whose last refresh failed for a passing reason

Without a filter, every shop in the due index and every shop with a recorded failure. The shops
come from the store's due index (one query per app) and its failure index (one more); their
tokens are read in bulk (one round trip per 1000 shops on Redis), never one by one. A recorded
failure older than the shop's stored token is stale (another process or a new authorization has
superseded it) and is not listed. The failure index is kept by Redis stores and the memory store;
with another store, --needs-authorization and --failing exit 1.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := c.withTimeout(cmd.Context())
			defer cancel()
			e, err := c.open(ctx, false)
			if err != nil {
				return err
			}
			defer e.close()
			defer c.reportTrips()
			f := listFilter{expiring: expiring, needsAuth: needsAuth, failing: failing, now: e.now()}
			var rows []*tokenView
			for _, a := range e.apps {
				got, err := listApp(ctx, a, f)
				if err != nil {
					return fmt.Errorf("%s: %w", a.name(), err)
				}
				rows = append(rows, got...)
			}
			sort.SliceStable(rows, func(i, j int) bool { return rows[i].sortKey().Before(rows[j].sortKey()) })
			total := len(rows)
			if limit > 0 && len(rows) > limit {
				rows = rows[:limit]
			}
			out := struct {
				Count int          `json:"count"`
				Shops []*tokenView `json:"shops"`
			}{total, rows}
			if out.Shops == nil {
				out.Shops = []*tokenView{}
			}
			return c.out(out, func(w io.Writer) { printList(w, rows, total) })
		},
	}
	cmd.Flags().DurationVar(&expiring, "expiring", 0, "shops whose token expires or grant ends within this long")
	cmd.Flags().BoolVar(&needsAuth, "needs-authorization", false, "shops that need a person to authorize again")
	cmd.Flags().BoolVar(&failing, "failing", false, "shops whose last refresh failed for a passing reason")
	cmd.Flags().IntVar(&limit, "limit", 0, "print at most this many shops (the count is of all)")
	return cmd
}

type listFilter struct {
	expiring           time.Duration
	needsAuth, failing bool
	now                time.Time
}

func (f listFilter) any() bool { return f.expiring > 0 || f.needsAuth || f.failing }

// listApp lists a's shops that pass f: the candidates come from the due index and the failure
// index, their tokens from one bulk load.
func listApp(ctx context.Context, a *appRT, f listFilter) ([]*tokenView, error) {
	st := a.store.store
	ns := a.app.Namespace()
	cand := map[string]bool{}
	if f.expiring > 0 || !f.any() {
		idx, ok := st.(shoptoken.DueIndex)
		if !ok {
			return nil, usagef("the store (%s) keeps no due index", a.store.desc)
		}
		until := farFuture
		if f.expiring > 0 {
			until = f.now.Add(f.expiring)
		}
		keys, err := idx.Due(ctx, ns, until, 0)
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			cand[k] = true
		}
	}
	fails := map[string]*shoptoken.Failure{}
	if fi, ok := st.(shoptoken.FailureIndex); ok {
		fs, err := fi.Failures(ctx, ns)
		if err != nil {
			return nil, err
		}
		for i := range fs {
			fails[fs[i].Key] = &fs[i]
			if f.needsAuth && fs[i].Permanent() || f.failing && !fs[i].Permanent() || !f.any() {
				cand[fs[i].Key] = true
			}
		}
	} else if f.needsAuth || f.failing {
		return nil, usagef("the store (%s) keeps no failure index: --needs-authorization and --failing need a Redis store (or the memory store)", a.store.desc)
	}
	keys := make([]string, 0, len(cand))
	for k := range cand {
		keys = append(keys, k)
	}
	loaded, err := loadMany(ctx, st, keys)
	if err != nil {
		return nil, err
	}
	var rows []*tokenView
	for _, key := range keys {
		k, err := shoptoken.ParseKey(key)
		if err != nil || k.Namespace() != ns || k.Shop == "" {
			continue // not a key of this app's
		}
		l, has := loaded[key]
		v := view(a, k, l.Token, l.Version, fails[key], f.now)
		if !has {
			v.State = "missing"
			if fl := fails[key]; fl != nil {
				v.State = "failing"
				if fl.Permanent() {
					v.State = "needs-authorization"
				}
			}
		}
		if f.any() && !f.keep(v, l.Token) {
			continue
		}
		if f.expiring > 0 && v.State == "ok" && has {
			v.State = "expiring"
		}
		rows = append(rows, v)
	}
	return rows, nil
}

// keep reports whether v passes the filters (any of them).
func (f listFilter) keep(v *tokenView, tok *shoptoken.Token) bool {
	if f.needsAuth && v.State == "needs-authorization" || f.failing && v.State == "failing" {
		return true
	}
	if f.expiring > 0 && tok != nil {
		until := f.now.Add(f.expiring)
		end := tok.Expiry
		if g := grantEnd(tok); !g.IsZero() && (end.IsZero() || g.Before(end)) {
			end = g
		}
		return !end.IsZero() && !end.After(until)
	}
	return false
}

// loadMany reads keys in bulk when the store can, else one by one.
func loadMany(ctx context.Context, st shoptoken.Store, keys []string) (map[string]shoptoken.Loaded, error) {
	if bl, ok := st.(shoptoken.BulkLoader); ok {
		m, err := bl.LoadMany(ctx, keys)
		if err != nil && len(m) == 0 && len(keys) > 0 {
			return nil, err
		}
		return m, nil // damaged keys are left out: they show as missing
	}
	m := make(map[string]shoptoken.Loaded, len(keys))
	for _, k := range keys {
		tok, v, err := st.Load(ctx, k)
		switch {
		case err == nil:
			m[k] = shoptoken.Loaded{Token: tok, Version: v}
		case shoptoken.KindOf(err) == shoptoken.ErrNotFound, shoptoken.KindOf(err) == shoptoken.ErrCorrupt:
		default:
			return nil, err
		}
	}
	return m, nil
}

// sortKey orders a list: what ends soonest first.
func (v *tokenView) sortKey() time.Time {
	t := farFuture
	for _, p := range []*time.Time{v.Expiry, v.GrantEnd} {
		if p != nil && p.Before(t) {
			t = *p
		}
	}
	if v.Failure != nil && !v.Failure.Stale && v.Failure.At.Before(t) {
		t = v.Failure.At
	}
	return t
}

func printList(w io.Writer, rows []*tokenView, total int) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PLATFORM/APP\tSHOP\tSTATE\tEXPIRES\tGRANT ENDS\tNEXT REFRESH\tLAST FAILURE")
	for _, v := range rows {
		fail := ""
		if f := v.Failure; f != nil && !f.Stale {
			fail = f.Kind + " " + f.At.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s/%s\t%s\t%s\t%s\t%s\t%s\t%s\n", v.Platform, v.App, v.Shop, v.State,
			dash(when(v.Expiry)), dash(when(v.GrantEnd)), dash(when(v.NextRefresh)), dash(fail))
	}
	_ = tw.Flush()
	if total > len(rows) {
		fmt.Fprintf(w, "(%d of %d shops)\n", len(rows), total)
	} else {
		fmt.Fprintf(w, "(%d shops)\n", total)
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
