//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package filestore

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
)

const (
	secretAccess  = "at-SECRET-0123456789abcdef"
	secretRefresh = "rt-SECRET-fedcba9876543210"
)

func fullToken() *shoptoken.Token {
	return &shoptoken.Token{
		AccessToken:   secretAccess,
		TokenType:     "Bearer",
		RefreshToken:  secretRefresh,
		Expiry:        time.Date(2030, 1, 2, 3, 4, 5, 6789, time.UTC),
		RefreshExpiry: time.Date(2030, 2, 3, 4, 5, 6, 0, time.UTC),
		IssuedAt:      time.Date(2029, 12, 31, 23, 59, 59, 999999999, time.UTC),
		Scope:         []string{"trade", "item"},
		Subject:       "88888",
		Extra:         map[string]string{"status": "1", "shop_name": "测试店"},
	}
}

func testKey() []byte { return bytes.Repeat([]byte{7}, 32) }

func newStore(t *testing.T, dir string, opts ...Option) *Store {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	s, err := New(dir, opts...)
	require.NoError(t, err)
	return s
}

func TestStore_SaveLoad_roundTrip(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts []Option
	}{
		{"plain", nil},
		{"sealed", []Option{WithSealKey(testKey())}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s := newStore(t, "", tt.opts...)
			want := fullToken()
			v, err := s.Save(ctx, "youzan/88888", want, 0)
			require.NoError(t, err)
			assert.Equal(t, int64(1), v)

			got, gv, err := s.Load(ctx, "youzan/88888")
			require.NoError(t, err)
			assert.Equal(t, v, gv)
			assert.Equal(t, want, got)

			// A zone other than UTC comes back as the same instant.
			shanghai := time.FixedZone("CST", 8*3600)
			want.Expiry = time.Date(2030, 1, 2, 11, 4, 5, 6789, shanghai)
			v, err = s.Save(ctx, "youzan/88888", want, v)
			require.NoError(t, err)
			assert.Equal(t, int64(2), v)
			got, _, err = s.Load(ctx, "youzan/88888")
			require.NoError(t, err)
			assert.True(t, want.Expiry.Equal(got.Expiry), "expiry %v != %v", got.Expiry, want.Expiry)
			_, offset := got.Expiry.Zone()
			assert.Equal(t, 8*3600, offset)

			// Load hands out a copy: changing it does not change the store.
			got.Extra["status"] = "changed"
			again, _, err := s.Load(ctx, "youzan/88888")
			require.NoError(t, err)
			assert.Equal(t, "1", again.Extra["status"])
		})
	}
}

func TestStore_Load_notFound(t *testing.T) {
	s := newStore(t, "")
	tok, v, err := s.Load(context.Background(), "nope")
	require.ErrorIs(t, err, shoptoken.ErrNotFound)
	assert.Nil(t, tok)
	assert.Zero(t, v)
}

func TestStore_Save_versions(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, "")
	_, err := s.Save(ctx, "k", fullToken(), 1)
	require.ErrorIs(t, err, shoptoken.ErrConflict, "prev 1 on an absent key")
	v1, err := s.Save(ctx, "k", fullToken(), 0)
	require.NoError(t, err)
	_, err = s.Save(ctx, "k", fullToken(), 0)
	require.ErrorIs(t, err, shoptoken.ErrConflict, "prev 0 on a present key")
	v2, err := s.Save(ctx, "k", fullToken(), v1)
	require.NoError(t, err)
	_, err = s.Save(ctx, "k", fullToken(), v1)
	require.ErrorIs(t, err, shoptoken.ErrConflict, "stale prev")
	assert.Equal(t, []int64{1, 2}, []int64{v1, v2})
	_, err = s.Save(ctx, "k", nil, v2)
	require.Error(t, err)
}

func TestStore_Save_concurrentCAS(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, "")
	prev, err := s.Save(ctx, "k", fullToken(), 0)
	require.NoError(t, err)

	const n = 50
	var ok, conflicts atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok := fullToken()
			tok.Subject = string(rune('A' + i))
			<-start
			_, err := s.Save(ctx, "k", tok, prev)
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, shoptoken.ErrConflict):
				conflicts.Add(1)
			default:
				t.Errorf("save: %v", err)
			}
		}()
	}
	close(start)
	wg.Wait()
	assert.Equal(t, int32(1), ok.Load())
	assert.Equal(t, int32(n-1), conflicts.Load())
	_, v, err := s.Load(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, prev+1, v)
}

func TestStore_Delete_tombstone(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, "")
	require.NoError(t, s.Delete(ctx, "k"), "deleting an absent key")

	v1, err := s.Save(ctx, "k", fullToken(), 0)
	require.NoError(t, err)
	require.NoError(t, s.Delete(ctx, "k"))
	require.NoError(t, s.Delete(ctx, "k"), "deleting twice")
	_, _, err = s.Load(ctx, "k")
	require.ErrorIs(t, err, shoptoken.ErrNotFound)

	_, err = s.Save(ctx, "k", fullToken(), v1)
	require.ErrorIs(t, err, shoptoken.ErrConflict, "a writer holding the deleted version")
	v3, err := s.Save(ctx, "k", fullToken(), 0)
	require.NoError(t, err, "prev 0 after Delete")
	assert.Equal(t, int64(3), v3, "versions continue past the tombstone")
	_, err = s.Save(ctx, "k", fullToken(), v1)
	require.ErrorIs(t, err, shoptoken.ErrConflict, "no ABA: version 1 is gone for good")
	_, v, err := s.Load(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, v3, v)
}

func TestStore_twoInstances(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a, b := newStore(t, dir), newStore(t, dir)

	v, err := a.Save(ctx, "k", fullToken(), 0)
	require.NoError(t, err)
	got, gv, err := b.Load(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, v, gv)
	assert.Equal(t, fullToken(), got)
	_, err = b.Save(ctx, "k", fullToken(), 0)
	require.ErrorIs(t, err, shoptoken.ErrConflict)
	v2, err := b.Save(ctx, "k", fullToken(), v)
	require.NoError(t, err)
	require.NoError(t, b.Delete(ctx, "k"))
	_, _, err = a.Load(ctx, "k")
	require.ErrorIs(t, err, shoptoken.ErrNotFound)
	assert.Equal(t, int64(2), v2)

	unlock, err := a.Lock(ctx, "k", time.Minute)
	require.NoError(t, err)
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	_, err = b.Lock(short, "k", time.Minute)
	cancel()
	require.ErrorIs(t, err, context.DeadlineExceeded, "b must not get a's lease")
	unlock()
	unlockB, err := b.Lock(ctx, "k", time.Minute)
	require.NoError(t, err)
	unlockB()
}

func TestStore_Lock_unlock(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, "", WithPollInterval(5*time.Millisecond))
	tryLock := func() error {
		short, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
		defer cancel()
		u, err := s.Lock(short, "k", time.Minute)
		if err == nil {
			u()
		}
		return err
	}

	unlockA, err := s.Lock(ctx, "k", time.Minute)
	require.NoError(t, err)
	require.ErrorIs(t, tryLock(), context.DeadlineExceeded, "same Store, another goroutine")
	require.NoError(t, tryLock2(s, "other"), "other keys are free")
	unlockA()

	unlockB, err := s.Lock(ctx, "k", time.Minute)
	require.NoError(t, err)
	unlockA() // a second unlock by the old holder must not free B's lease
	require.ErrorIs(t, tryLock(), context.DeadlineExceeded)
	unlockB()
	unlockB()
	require.NoError(t, tryLock())

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = s.Lock(canceled, "k", time.Minute)
	require.ErrorIs(t, err, context.Canceled)
}

func tryLock2(s *Store, key string) error {
	u, err := s.Lock(context.Background(), key, time.Minute)
	if err == nil {
		u()
	}
	return err
}

// TestStore_Lock_exclusion checks that leases exclude goroutines of one process, through one
// Store and through two (each Lock opens the lease file anew, so this is flock between open files
// of one process).
func TestStore_Lock_exclusion(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	stores := []*Store{
		newStore(t, dir, WithPollInterval(time.Millisecond)),
		newStore(t, dir, WithPollInterval(time.Millisecond)),
	}
	const goroutines, rounds = 16, 10
	var inside, maxInside, total atomic.Int32
	var wg sync.WaitGroup
	for i := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := stores[i%2]
			for range rounds {
				unlock, err := s.Lock(ctx, "k", time.Minute)
				if !assert.NoError(t, err) {
					return
				}
				n := inside.Add(1)
				for {
					m := maxInside.Load()
					if n <= m || maxInside.CompareAndSwap(m, n) {
						break
					}
				}
				time.Sleep(100 * time.Microsecond)
				total.Add(1)
				inside.Add(-1)
				unlock()
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int32(1), maxInside.Load(), "at most one holder at a time")
	assert.Equal(t, int32(goroutines*rounds), total.Load())
}

func TestStore_sealed(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := newStore(t, dir, WithSealKey(testKey()))
	_, err := s.Save(ctx, "youzan/88888", fullToken(), 0)
	require.NoError(t, err)
	_, err = s.Save(ctx, "youzan/99999", fullToken(), 0)
	require.NoError(t, err)

	file := s.path("youzan/88888", ".json")
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	for _, secret := range []string{secretAccess, secretRefresh, "SECRET", "subject", "测试店", "trade", "Bearer"} {
		assert.NotContains(t, string(data), secret)
	}
	assert.Contains(t, string(data), `"key":"youzan/88888"`)

	assertCorrupt := func(t *testing.T, err error, reason string) {
		t.Helper()
		require.ErrorIs(t, err, ErrCorrupt)
		assert.NotErrorIs(t, err, shoptoken.ErrNotFound)
		assert.Contains(t, err.Error(), filepath.Base(file))
		assert.Contains(t, err.Error(), reason)
		assert.NotContains(t, err.Error(), "SECRET")
	}

	t.Run("another key", func(t *testing.T) {
		other := bytes.Repeat([]byte{8}, 32)
		_, _, err := newStore(t, dir, WithSealKey(other)).Load(ctx, "youzan/88888")
		assertCorrupt(t, err, "wrong seal key")
	})
	t.Run("unsealed store", func(t *testing.T) {
		_, _, err := newStore(t, dir).Load(ctx, "youzan/88888")
		assertCorrupt(t, err, "no seal key")
	})
	t.Run("version altered", func(t *testing.T) {
		altered := bytes.Replace(data, []byte(`"version":1`), []byte(`"version":7`), 1)
		require.NotEqual(t, data, altered)
		require.NoError(t, os.WriteFile(file, altered, 0o600))
		defer func() { require.NoError(t, os.WriteFile(file, data, 0o600)) }()
		_, _, err := s.Load(ctx, "youzan/88888")
		assertCorrupt(t, err, "altered")
	})
	t.Run("file swapped between keys", func(t *testing.T) {
		other := s.path("youzan/99999", ".json")
		// Give it the right key name in the clear too: only the sealed part is authentic.
		swapped := bytes.Replace(data, []byte("youzan/88888"), []byte("youzan/99999"), 1)
		require.NoError(t, os.WriteFile(other, swapped, 0o600))
		_, _, err := s.Load(ctx, "youzan/99999")
		require.ErrorIs(t, err, ErrCorrupt)
		assert.Contains(t, err.Error(), "altered")
	})
	t.Run("sealed store on a plain file", func(t *testing.T) {
		plainDir := t.TempDir()
		_, err := newStore(t, plainDir).Save(ctx, "k", fullToken(), 0)
		require.NoError(t, err)
		sealed := newStore(t, plainDir, WithSealKey(testKey()))
		_, _, err = sealed.Load(ctx, "k")
		require.ErrorIs(t, err, ErrCorrupt)
		assert.Contains(t, err.Error(), "not sealed")
		_, err = sealed.Save(ctx, "k", fullToken(), 1)
		require.ErrorIs(t, err, ErrCorrupt, "a file it cannot read is not overwritten")
	})
	t.Run("original still loads", func(t *testing.T) {
		got, v, err := s.Load(ctx, "youzan/88888")
		require.NoError(t, err)
		assert.Equal(t, int64(1), v)
		assert.Equal(t, fullToken(), got)
	})
}

func TestNew_options(t *testing.T) {
	for _, n := range []int{0, 16, 24, 31, 33} {
		_, err := New(t.TempDir(), WithSealKey(make([]byte, n)))
		require.Error(t, err, "key of %d bytes", n)
		assert.Contains(t, err.Error(), "32")
	}
	_, err := New("")
	require.Error(t, err)

	s, err := New(t.TempDir(), WithPollInterval(0))
	require.NoError(t, err)
	assert.Equal(t, defaultPoll, s.poll)

	// The caller's key slice may change once WithSealKey returns, before New runs, without
	// affecting the Store: a Store made with the original key reads what it wrote.
	dir := t.TempDir()
	key := testKey()
	opt := WithSealKey(key)
	key[0] ^= 0xff
	s, err = New(dir, opt)
	require.NoError(t, err)
	_, err = s.Save(context.Background(), "k", fullToken(), 0)
	require.NoError(t, err)
	_, _, err = newStore(t, dir, WithSealKey(testKey())).Load(context.Background(), "k")
	require.NoError(t, err, "the Store sealed with the key as it was when WithSealKey was called")
}

func TestStore_corruptFile(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name    string
		content string
		reason  string
	}{
		{"garbage", "\x00\x01garbage " + secretAccess, "not valid JSON"},
		{"truncated", `{"format":1,"key":"k","version":3,"token":{"access_token":"` + secretAccess, "not valid JSON"},
		{"empty", "", "not valid JSON"},
		{"unknown format", `{"format":9,"key":"k","version":3}`, "unknown format 9"},
		{"no version", `{"format":1,"key":"k","token":{"access_token":"x"}}`, "invalid version"},
		{"other key", `{"format":1,"key":"j","version":3,"token":{"access_token":"x"}}`, `belongs to key "j"`},
		{"no token", `{"format":1,"key":"k","version":3}`, "no token"},
		{"bad token", `{"format":1,"key":"k","version":3,"token":{"expiry":"` + secretAccess + `"}}`, "token is not valid JSON"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t, "")
			file := s.path("k", ".json")
			require.NoError(t, os.WriteFile(file, []byte(tt.content), 0o600))

			_, _, err := s.Load(ctx, "k")
			require.ErrorIs(t, err, ErrCorrupt)
			assert.NotErrorIs(t, err, shoptoken.ErrNotFound)
			assert.Contains(t, err.Error(), file)
			assert.Contains(t, err.Error(), tt.reason)
			assert.NotContains(t, err.Error(), "SECRET")

			_, err = s.Save(ctx, "k", fullToken(), 0)
			require.ErrorIs(t, err, ErrCorrupt)
			_, err = s.Save(ctx, "k", fullToken(), 3)
			require.ErrorIs(t, err, ErrCorrupt)

			require.NoError(t, s.Delete(ctx, "k"), "Delete clears an unreadable file")
			_, _, err = s.Load(ctx, "k")
			require.ErrorIs(t, err, shoptoken.ErrNotFound)
			v, err := s.Save(ctx, "k", fullToken(), 0)
			require.NoError(t, err)
			assert.Positive(t, v)
		})
	}
}

func TestStore_leftoverTempFile(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, "")
	// A process that crashed mid-write leaves its temporary file behind.
	leftover := filepath.Join(s.Dir(), ".tmp-"+stem("k")+"-123456")
	require.NoError(t, os.WriteFile(leftover, []byte(`{"format":1,"key":"k","vers`), 0o600))

	_, _, err := s.Load(ctx, "k")
	require.ErrorIs(t, err, shoptoken.ErrNotFound)
	v, err := s.Save(ctx, "k", fullToken(), 0)
	require.NoError(t, err)
	got, gv, err := s.Load(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, v, gv)
	assert.Equal(t, fullToken(), got)

	// Saves leave no temporary files of their own.
	entries, err := os.ReadDir(s.Dir())
	require.NoError(t, err)
	var tmps []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tmp-") {
			tmps = append(tmps, e.Name())
		}
	}
	assert.Equal(t, []string{filepath.Base(leftover)}, tmps)
}

func TestStore_keysStayInDir(t *testing.T) {
	ctx := context.Background()
	parent := t.TempDir()
	s := newStore(t, filepath.Join(parent, "tokens"))
	keys := []string{
		"youzan/88888", "../x", "../../etc/passwd", "/abs/path", "a/../../b", "..", ".", "",
		"with\x00nul", "back\\slash", "CaSe", "case", "店铺/1", strings.Repeat("long/", 300),
		strings.Repeat("a", maxPlainKey), strings.Repeat("a", maxPlainKey+1),
	}
	for i, key := range keys {
		tok := fullToken()
		tok.Subject = key
		_, err := s.Save(ctx, key, tok, 0)
		require.NoError(t, err, "key %q", key)
		unlock, err := s.Lock(ctx, key, time.Minute)
		require.NoError(t, err)
		unlock()
		if i%2 == 0 {
			_, err := s.Save(ctx, key, tok, 1)
			require.NoError(t, err)
		}
	}
	for i, key := range keys {
		got, v, err := s.Load(ctx, key)
		require.NoError(t, err, "key %q", key)
		assert.Equal(t, key, got.Subject, "each key has its own file")
		assert.Equal(t, int64(1+(i+1)%2), v, "key %q", key)
	}

	top, err := os.ReadDir(parent)
	require.NoError(t, err)
	require.Len(t, top, 1, "nothing written beside the store's directory")
	entries, err := os.ReadDir(s.Dir())
	require.NoError(t, err)
	assert.Len(t, entries, 3*len(keys), "one data, lock and lease file per key")
	for _, e := range entries {
		assert.True(t, e.Type().IsRegular(), "%s", e.Name())
		assert.Less(t, len(e.Name()), 200)
	}
}

func TestStore_modes(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "a", "tokens")
	s := newStore(t, dir)
	fi, err := os.Stat(dir)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm())

	_, err = s.Save(ctx, "k", fullToken(), 0)
	require.NoError(t, err)
	require.NoError(t, tryLock2(s, "k"))
	require.NoError(t, s.Delete(ctx, "k"))
	_, err = s.Save(ctx, "k", fullToken(), 0)
	require.NoError(t, err)
	for _, ext := range []string{".json", ".lock", ".lease"} {
		fi, err := os.Stat(s.path("k", ext))
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), ext)
	}
}

func TestNew_refusesDir(t *testing.T) {
	for _, mode := range []os.FileMode{0o770, 0o777, 0o702, 0o720} {
		dir := filepath.Join(t.TempDir(), "shared")
		require.NoError(t, os.Mkdir(dir, 0o700))
		require.NoError(t, os.Chmod(dir, mode))
		_, err := New(dir)
		require.Error(t, err, "mode %#o", mode)
		assert.Contains(t, err.Error(), "writable by group or others")
	}
	for _, mode := range []os.FileMode{0o700, 0o750, 0o755} {
		dir := filepath.Join(t.TempDir(), "private")
		require.NoError(t, os.Mkdir(dir, 0o700))
		require.NoError(t, os.Chmod(dir, mode))
		_, err := New(dir)
		require.NoError(t, err, "mode %#o", mode)
	}
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	_, err := New(file)
	require.Error(t, err)
}

func TestStore_Watch(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := newStore(t, dir, WithPollInterval(5*time.Millisecond))
	other := newStore(t, dir)
	changed, stop, err := s.Watch(ctx, "k")
	require.NoError(t, err)
	defer stop()

	expect := func(what string) {
		t.Helper()
		select {
		case <-changed:
		case <-time.After(2 * time.Second):
			t.Fatalf("no change seen after %s", what)
		}
	}
	quiet := func() {
		t.Helper()
		select {
		case <-changed:
			t.Fatal("change reported without one")
		case <-time.After(30 * time.Millisecond):
		}
	}
	quiet()
	v, err := other.Save(ctx, "k", fullToken(), 0)
	require.NoError(t, err)
	expect("first save")
	quiet()
	_, err = other.Save(ctx, "k", fullToken(), v)
	require.NoError(t, err)
	expect("second save")
	_, err = other.Save(ctx, "j", fullToken(), 0)
	require.NoError(t, err)
	quiet()
	require.NoError(t, other.Delete(ctx, "k"))
	expect("delete")

	stop()
	stop()
	_, err = other.Save(ctx, "k", fullToken(), 0)
	require.NoError(t, err)
	quiet()
}

func TestStore_canceledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s := newStore(t, "")
	_, _, err := s.Load(ctx, "k")
	require.ErrorIs(t, err, context.Canceled)
	_, err = s.Save(ctx, "k", fullToken(), 0)
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorIs(t, s.Delete(ctx, "k"), context.Canceled)
	_, _, err = s.Watch(ctx, "k")
	require.ErrorIs(t, err, context.Canceled)
	_, _, err = s.Load(context.Background(), "k")
	require.ErrorIs(t, err, shoptoken.ErrNotFound, "nothing was written")
}

// TestStore_Save_waitsForWriteLock: a Save blocked behind a writer (here: a held lock file)
// gives up when its context ends.
func TestStore_Save_waitsForWriteLock(t *testing.T) {
	s := newStore(t, "")
	f, err := acquire(context.Background(), s.path("k", ".lock"), writeWaitMin, writeWaitMax)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	_, err = s.Save(ctx, "k", fullToken(), 0)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	release(f)
	_, err = s.Save(context.Background(), "k", fullToken(), 0)
	require.NoError(t, err)
}
