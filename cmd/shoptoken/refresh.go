package main

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/shops"
)

func (c *cli) refreshCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "refresh SHOP",
		Short: "Refresh a shop's token now, through the fleet's lease, and save it before printing",
		Long: `refresh asks the platform for a new token for SHOP now. It goes through the App and its
Cache exactly as the fleet does: it takes the shop's lease in the store (so it never races a
Keeper or a service refreshing the same shop), adopts a token another process saved meanwhile
instead of calling the platform again, and saves the new token to the store before it prints
anything. Exit 3 when the grant is gone (vip.com tokens cannot be refreshed: authorize instead).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := c.withTimeout(cmd.Context())
			defer cancel()
			var version atomic.Int64
			shop := args[0]
			e, err := c.open(ctx, true, shops.WithEvents(func(ev shoptoken.Event) {
				if ev.Key.Shop == shop && (ev.Kind == shoptoken.EventPersisted || ev.Kind == shoptoken.EventAdopted) {
					version.Store(ev.Version)
				}
			}))
			if err != nil {
				return err
			}
			defer c.reportTrips()
			a := e.apps[0]
			tok, err := forceRefresh(ctx, a, shop)
			// Wait for the save (and anything else under way) before printing or exiting.
			sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer scancel()
			if serr := e.shutdown(sctx); err == nil && serr != nil {
				err = serr // the new token is not saved: say so, never print it
			}
			if err != nil {
				return err
			}
			v := view(a, a.app.Key(shop), tok, version.Load(), nil, e.now())
			return c.out(v, func(w io.Writer) { v.print(w) })
		},
	}
}

// forceRefresh refreshes shop's token through its Cache: it first adopts the stored token (so the
// refresh starts from the fleet's latest refresh token), then asks for a new one.
func forceRefresh(ctx context.Context, a *appRT, shop string) (*shoptoken.Token, error) {
	if err := a.app.Key(shop).Check(); err != nil {
		return nil, usagef("shop %q: %v", shop, err)
	}
	// The engine refreshes without the store when it cannot reach it, for its callers' sake; an
	// operator's refresh must not: without the lease it could race the fleet (and on platforms
	// where a new token kills the last, kill the fleet's). So the store must answer first.
	if _, _, err := a.store.store.Load(ctx, a.app.Key(shop).String()); err != nil &&
		!errors.Is(err, shoptoken.ErrNotFound) && !errors.Is(err, shoptoken.ErrCorrupt) {
		return nil, err
	}
	cache, err := a.app.Cache(shop)
	if err != nil {
		return nil, err
	}
	cache.Reload(ctx)
	return cache.Refresh(ctx)
}
