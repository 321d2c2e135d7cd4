//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package filestore

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/testkit"
)

const (
	helperEnv    = "FILESTORE_TEST_HELPER_DIR"
	helperKey    = "youzan/88888"
	helperProcs  = 4
	helperCycles = 50
)

// TestStore_multiProcess runs helperProcs copies of the test binary as separate processes; each
// does helperCycles rounds of Lock and Load (or TryLockLoad until it gets the lease, every other
// round), Save(version+1), unlock on one key. The lease must serialise them: no Save may conflict
// and no increment may be lost.
func TestStore_multiProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	ctx := context.Background()
	dir := t.TempDir()
	s := newStore(t, dir)
	_, err := s.Save(ctx, helperKey, &shoptoken.Token{AccessToken: "start", Extra: map[string]string{"n": "0"}}, 0)
	require.NoError(t, err)

	children := make([]*testkit.Child, helperProcs)
	for i := range children {
		children[i] = testkit.StartChild(t, "c"+strconv.Itoa(i), "TestHelperProcess", helperEnv+"="+dir)
	}
	for i, c := range children {
		<-c.Done()
		require.NoError(t, c.Err(), "child %d:\n%s", i, c.Output())
		require.Contains(t, c.Output(), fmt.Sprintf("helper done: %d saves", helperCycles), "child %d ran the helper", i)
	}

	tok, v, err := s.Load(ctx, helperKey)
	require.NoError(t, err)
	assert.Equal(t, int64(1+helperProcs*helperCycles), v)
	assert.Equal(t, strconv.Itoa(helperProcs*helperCycles), tok.Extra["n"], "no lost update")
}

// TestHelperProcess is one child of TestStore_multiProcess; run on its own it does nothing.
func TestHelperProcess(t *testing.T) {
	dir := os.Getenv(helperEnv)
	if dir == "" {
		t.Skip("child process of TestStore_multiProcess")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := New(dir, WithPollInterval(2*time.Millisecond))
	require.NoError(t, err)
	saves := 0
	for i := range helperCycles {
		var (
			unlock func()
			tok    *shoptoken.Token
			v      int64
			err    error
		)
		if i%2 == 0 {
			unlock, err = s.Lock(ctx, helperKey, time.Minute)
			require.NoError(t, err)
			tok, v, err = s.Load(ctx, helperKey)
			require.NoError(t, err)
		} else {
			for unlock == nil { // TryLockLoad never waits: try again
				ll, err := s.TryLockLoad(ctx, helperKey, time.Minute)
				require.NoError(t, err)
				require.NoError(t, ll.LoadErr)
				require.NotNil(t, ll.Token)
				tok, v, unlock = ll.Token, ll.Version, ll.Unlock
				if unlock == nil {
					time.Sleep(time.Millisecond)
				}
			}
		}
		n, err := strconv.Atoi(tok.Extra["n"])
		require.NoError(t, err)
		next := tok.Clone()
		next.AccessToken = fmt.Sprintf("at-%d-%d", os.Getpid(), i)
		next.Extra["n"] = strconv.Itoa(n + 1)
		nv, err := s.Save(ctx, helperKey, next, v)
		require.NoError(t, err, "under the lease no Save may conflict")
		require.Equal(t, v+1, nv)
		saves++
		unlock()
	}
	fmt.Printf("helper done: %d saves\n", saves)
}
