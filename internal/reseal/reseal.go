// Package reseal is the loop behind every sealing store's Reseal: read each key, and save again
// the tokens sealed with another key than the current one (or stored in clear), so that the store
// seals them with the current key.
package reseal

import (
	"context"
	"errors"
	"fmt"

	"github.com/shoptoken/shoptoken"
)

// Stored is what a store read of one key found.
type Stored struct {
	Token    *shoptoken.Token
	Version  int64
	SealedBy string // the id of the key it was sealed with; "" when stored in clear
}

// Run reads each of keys with read (an error wrapping shoptoken.ErrNotFound: no token there) and
// saves again, with save and the version read, each token not sealed with current. A save that
// loses to another writer (shoptoken.ErrConflict) is no error: that writer sealed with its current
// key. Run stops when ctx ends. It returns how many tokens it saved and every error, joined; pkg
// (the store's package name) begins the errors it makes itself.
func Run(ctx context.Context, pkg, current string, keys []string,
	read func(key string) (Stored, error),
	save func(ctx context.Context, key string, tok *shoptoken.Token, prev int64) (int64, error)) (int, error) {
	n := 0
	var errs []error
	for _, k := range keys {
		if err := ctx.Err(); err != nil {
			errs = append(errs, fmt.Errorf("%s: reseal: %w", pkg, err))
			break
		}
		st, err := read(k)
		switch {
		case errors.Is(err, shoptoken.ErrNotFound) || err == nil && st.SealedBy == current:
			continue
		case err != nil:
			errs = append(errs, err)
			continue
		}
		switch _, err := save(ctx, k, st.Token, st.Version); {
		case err == nil:
			n++
		case !errors.Is(err, shoptoken.ErrConflict):
			errs = append(errs, err)
		}
	}
	return n, errors.Join(errs...)
}
