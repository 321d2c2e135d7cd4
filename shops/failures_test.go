package shops_test

import (
	"context"
	"errors"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/fakeclock"
	"github.com/shoptoken/shoptoken/shops"
)

// TestApp_failures_recordedAndCleared: a refresh that fails for a passing reason is recorded as
// failing, a lost grant as needing a person, both in the store's FailureIndex under the App's
// namespace; a later success clears the record, and a token issued after a failure makes it stale.
func TestApp_failures_recordedAndCleared(t *testing.T) {
	clk := fakeclock.New(t0)
	st := shoptoken.NewMemoryStore()
	p := newPlatform("veapi", clk.Now)
	pl := p.Platform("acct")
	pl.Clock = clk
	a := newApp(t, pl, shops.WithStore(st))
	ctx := context.Background()

	down := error(&shoptoken.Error{Platform: "veapi", Kind: shoptoken.ErrUnavailable, Message: "HTTP 503\nbody"})
	p.fail.Store(&down)
	_, err := a.Token(ctx, "s1")
	require.ErrorIs(t, err, shoptoken.ErrUnavailable)
	gone := error(&shoptoken.Error{Platform: "veapi", Kind: shoptoken.ErrReauthorize, Message: "refresh_token已失效"})
	p.fail.Store(&gone)
	_, err = a.Token(ctx, "s2")
	require.ErrorIs(t, err, shoptoken.ErrReauthorize)
	require.NoError(t, a.FlushDue(ctx))

	fs, err := st.Failures(ctx, "veapi/acct")
	require.NoError(t, err)
	sort.Slice(fs, func(i, j int) bool { return fs[i].Key < fs[j].Key })
	require.Len(t, fs, 2)
	assert.Equal(t, "veapi/acct/s1", fs[0].Key)
	assert.Equal(t, "unavailable", fs[0].Kind)
	assert.False(t, fs[0].Permanent())
	assert.Equal(t, "veapi: HTTP 503 body", fs[0].Message, "one line")
	assert.True(t, fs[0].At.Equal(t0))
	assert.Equal(t, "reauthorize", fs[1].Kind)
	assert.True(t, fs[1].Permanent())
	other, err := st.Failures(ctx, "youzan/acct")
	require.NoError(t, err)
	assert.Empty(t, other, "namespaces do not mix")

	p.fail.Store(nil)
	clk.Advance(time.Hour) // past the back-off
	tok, err := a.Token(ctx, "s1")
	require.NoError(t, err)
	require.NoError(t, a.FlushDue(ctx))
	fs, err = st.Failures(ctx, "veapi/acct")
	require.NoError(t, err)
	require.Len(t, fs, 1, "the success cleared s1's record")
	assert.Equal(t, "veapi/acct/s2", fs[0].Key)
	assert.True(t, fs[0].Stale(&shoptoken.Token{IssuedAt: tok.IssuedAt}), "a token issued later supersedes it")
	assert.False(t, fs[0].Stale(&shoptoken.Token{}), "an unknown issue time supersedes nothing")
}

func TestFailureOf(t *testing.T) {
	long := errors.New("x界" + stringOf('y', 300))
	f := shoptoken.FailureOf("k", t0, long)
	assert.Equal(t, "bad_response", f.Kind, "as KindOf reads an error it does not know")
	assert.LessOrEqual(t, len(f.Message), shoptoken.MaxFailureMessage)
	assert.Equal(t, "x界", f.Message[:4])
	cut := shoptoken.FailureOf("k", t0, errors.New("ab"+stringOf('c', 197)+"界")) // 界 is bytes 200 to 202
	assert.Equal(t, 199, len(cut.Message), "a character is never split")
}

func stringOf(c byte, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = c
	}
	return string(b)
}

// TestApp_Due_isCacheDue: the plan App.Due shows for a stored token is the one a Cache made from
// it reports, and showing it starts no refresh.
func TestApp_Due_isCacheDue(t *testing.T) {
	clk := fakeclock.New(t0)
	p := newPlatform("veapi", clk.Now)
	pl := p.Platform("acct", shoptoken.WithEarlyRefresh(time.Hour), shoptoken.WithJitter(0), shoptoken.WithGrantWarning(72*time.Hour))
	pl.Clock = clk
	st := shoptoken.NewMemoryStore()
	a := newApp(t, pl, shops.WithStore(st))
	tok := &shoptoken.Token{AccessToken: "a", RefreshToken: "r", IssuedAt: t0.Add(-time.Hour),
		Expiry: t0.Add(5 * time.Hour), RefreshExpiry: t0.Add(100 * time.Hour)}
	assert.Equal(t, t0.Add(4*time.Hour), a.Due(tok), "an hour before expiry")
	tok.RefreshExpiry = t0.Add(74 * time.Hour)
	assert.Equal(t, t0.Add(2*time.Hour), a.Due(tok), "the grant warning comes first")
	assert.True(t, a.Due(nil).IsZero())
	_, err := st.Save(context.Background(), "veapi/acct/s", tok, 0)
	require.NoError(t, err)
	c, err := a.Cache("s")
	require.NoError(t, err)
	c.Reload(context.Background())
	assert.Equal(t, c.Due(), a.Due(tok))
	assert.Zero(t, p.calls.Load(), "nothing was refreshed")
}

// TestWithOnSweep_several: every listener hears every sweep.
func TestWithOnSweep_several(t *testing.T) {
	p := newPlatform("veapi", time.Now)
	var n1, n2 int
	a := newApp(t, p.Platform("acct"), shops.WithStore(shoptoken.NewMemoryStore()),
		shops.WithOnSweep(func(shoptoken.Key, shops.SweepResult, error) { n1++ }),
		shops.WithOnSweep(func(shoptoken.Key, shops.SweepResult, error) { n2++ }))
	_, err := a.Sweep(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 1, n1)
	assert.Equal(t, 1, n2)
}
