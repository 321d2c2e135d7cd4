package reseal

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
)

// TestRun: only tokens sealed with another key, or in clear, are saved, each with the version
// read; absent keys and lost races are no error; read and save errors are all reported; a
// cancelled context stops the loop.
func TestRun(t *testing.T) {
	stored := map[string]Stored{
		"old":     {Token: &shoptoken.Token{AccessToken: "a"}, Version: 3, SealedBy: "k1"},
		"clear":   {Token: &shoptoken.Token{AccessToken: "b"}, Version: 5},
		"current": {Token: &shoptoken.Token{AccessToken: "c"}, Version: 7, SealedBy: "k2"},
		"raced":   {Token: &shoptoken.Token{AccessToken: "d"}, Version: 9, SealedBy: "k1"},
		"failing": {Token: &shoptoken.Token{AccessToken: "e"}, Version: 11},
	}
	damaged := errors.New("damaged")
	unwell := errors.New("disk unwell")
	read := func(k string) (Stored, error) {
		if k == "damaged" {
			return Stored{}, damaged
		}
		st, ok := stored[k]
		if !ok {
			return Stored{}, shoptoken.ErrNotFound
		}
		return st, nil
	}
	saved := map[string]int64{}
	save := func(_ context.Context, k string, tok *shoptoken.Token, prev int64) (int64, error) {
		require.Same(t, stored[k].Token, tok)
		switch k {
		case "raced":
			return 0, shoptoken.ErrConflict
		case "failing":
			return 0, unwell
		}
		saved[k] = prev
		return prev + 1, nil
	}
	keys := []string{"old", "absent", "clear", "current", "raced", "damaged", "failing"}
	n, err := Run(context.Background(), "teststore", "k2", keys, read, save)
	assert.Equal(t, 2, n)
	assert.Equal(t, map[string]int64{"old": 3, "clear": 5}, saved)
	assert.ErrorIs(t, err, damaged)
	assert.ErrorIs(t, err, unwell)
	assert.NotErrorIs(t, err, shoptoken.ErrConflict)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	clear(saved)
	n, err = Run(ctx, "teststore", "k2", keys, read, save)
	assert.Zero(t, n)
	assert.Empty(t, saved)
	require.ErrorIs(t, err, context.Canceled)
	assert.Contains(t, err.Error(), "teststore: reseal")
}
