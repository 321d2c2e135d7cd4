package xoauth2

import (
	"context"
	"net/http"
)

// ClientFor returns the client r sends a refresh with on ctx.
func ClientFor(r *Refresher, ctx context.Context) *http.Client { return r.client(ctx) }
