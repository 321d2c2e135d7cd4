package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/shoptoken/shoptoken"
)

func (c *cli) revokeCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "revoke SHOP",
		Short: "Revoke a vip.com user's token and remove it from the store",
		Long: `revoke ends SHOP's vip.com grant (SHOP is the user's open_id): it revokes the stored access
token at vip.com (a token vip.com already considers invalid counts as revoked), then deletes it
from the store, takes the shop out of the due index and records it as needing authorization, so
every process of the fleet gets ErrReauthorize for it from its next store read. vip.com only.`,
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
			if a.cfg.Platform != "vipauth" {
				return usagef("revoke is for vip.com (vipauth) apps; %s has no revocation endpoint", a.cfg.Platform)
			}
			shop := args[0]
			k := a.app.Key(shop)
			if err := k.Check(); err != nil {
				return usagef("shop %q: %v", shop, err)
			}
			key := k.String()
			st := a.store.store
			tok, _, err := st.Load(ctx, key)
			if err != nil {
				if errors.Is(err, shoptoken.ErrNotFound) {
					return notFoundf("%s: no stored token", key)
				}
				return err
			}
			already := false
			if err := a.vip.Revoke(ctx, tok.AccessToken); err != nil {
				if !errors.Is(err, shoptoken.ErrTokenInvalid) {
					return err // nothing removed: the token may still work
				}
				already = true
			}
			if err := st.Delete(ctx, key); err != nil {
				return fmt.Errorf("revoked at vip.com, but not removed from the store: %w", err)
			}
			ns := a.app.Namespace()
			if idx, ok := st.(shoptoken.DueIndex); ok {
				if err := idx.Unschedule(ctx, ns, key); err != nil {
					return err
				}
			}
			if fi, ok := st.(shoptoken.FailureIndex); ok {
				f := shoptoken.Failure{Key: key, At: e.now(), Kind: "reauthorize", Message: "revoked by an operator (shoptoken revoke)"}
				if err := fi.RecordFailures(ctx, ns, f); err != nil {
					return err
				}
			}
			res := map[string]any{"key": key, "revoked": true, "already_invalid": already, "removed": true}
			return c.out(res, func(w io.Writer) {
				if already {
					fmt.Fprintf(w, "%s: vip.com already considered the token invalid; removed from the store\n", key)
				} else {
					fmt.Fprintf(w, "%s: revoked at vip.com and removed from the store\n", key)
				}
			})
		},
	}
}
