//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package filestore

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
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

func tryLock2(s *Store, key string) error {
	u, err := s.Lock(context.Background(), key, time.Minute)
	if err == nil {
		u()
	}
	return err
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
		require.ErrorIs(t, err, shoptoken.ErrCorrupt)
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
		require.ErrorIs(t, err, shoptoken.ErrCorrupt)
		assert.Contains(t, err.Error(), "altered")
	})
	t.Run("sealed store on a plain file", func(t *testing.T) {
		plainDir := t.TempDir()
		_, err := newStore(t, plainDir).Save(ctx, "k", fullToken(), 0)
		require.NoError(t, err)
		sealed := newStore(t, plainDir, WithSealKey(testKey()))
		_, _, err = sealed.Load(ctx, "k")
		require.ErrorIs(t, err, shoptoken.ErrCorrupt)
		assert.Contains(t, err.Error(), "not sealed")
		_, err = sealed.Save(ctx, "k", fullToken(), 0)
		require.ErrorIs(t, err, shoptoken.ErrConflict)
		v, err := sealed.Save(ctx, "k", fullToken(), 1)
		require.NoError(t, err, "replaced with the version Load reported")
		assert.Equal(t, int64(2), v)
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

// TestStore_corruptFile: Load reports each kind of unreadable file with its reason and the
// version that replaces it (the file's, or 0 when it shows none in range), never the token; Save
// replaces it with that version as prev only, and Delete clears it.
func TestStore_corruptFile(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name    string
		content string
		reason  string
		version int64
	}{
		{"garbage", "\x00\x01garbage " + secretAccess, "not valid JSON", 0},
		{"truncated", `{"format":1,"key":"k","version":3,"token":{"access_token":"` + secretAccess, "not valid JSON", 0},
		{"empty", "", "not valid JSON", 0},
		{"too large", `{"format":1,"key":"k","version":3,"token":{"access_token":"` + strings.Repeat("x", maxFileSize) + `"}}`, "larger than", 0},
		{"unknown format", `{"format":9,"key":"k","version":3}`, "unknown format 9", 0},
		{"no version", `{"format":1,"key":"k","token":{"access_token":"x"}}`, "version out of range", 0},
		{"version not a number", `{"format":1,"key":"k","version":"3","token":{"access_token":"x"}}`, "not valid JSON", 0},
		{"version above MaxVersion", `{"format":1,"key":"k","version":9007199254740992,"token":{"access_token":"x"}}`, "version out of range", 0},
		{"version MaxInt64", `{"format":1,"key":"k","version":9223372036854775807,"token":{"access_token":"x"}}`, "version out of range", 0},
		{"negative version", `{"format":1,"key":"k","version":-4,"token":{"access_token":"x"}}`, "version out of range", 0},
		{"other key", `{"format":1,"key":"j","version":3,"token":{"access_token":"x"}}`, `belongs to key "j"`, 3},
		{"no token", `{"format":1,"key":"k","version":3}`, "no token", 3},
		{"null token", `{"format":1,"key":"k","version":3,"token":null}`, "not a JSON object", 3},
		{"bad token", `{"format":1,"key":"k","version":3,"token":{"expiry":"` + secretAccess + `"}}`, "token is not valid JSON", 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t, "")
			file := s.path("k", ".json")
			require.NoError(t, os.WriteFile(file, []byte(tt.content), 0o600))

			_, v, err := s.Load(ctx, "k")
			require.ErrorIs(t, err, shoptoken.ErrCorrupt)
			assert.NotErrorIs(t, err, shoptoken.ErrNotFound)
			assert.Equal(t, tt.version, v)
			assert.Contains(t, err.Error(), file)
			assert.Contains(t, err.Error(), tt.reason)
			assert.NotContains(t, err.Error(), "SECRET")

			_, err = s.Save(ctx, "k", fullToken(), tt.version+1)
			require.ErrorIs(t, err, shoptoken.ErrConflict, "only the version Load reported replaces it")
			nv, err := s.Save(ctx, "k", fullToken(), tt.version)
			require.NoError(t, err)
			assert.Equal(t, tt.version+1, nv)
			got, gv, err := s.Load(ctx, "k")
			require.NoError(t, err)
			assert.Equal(t, nv, gv)
			assert.Equal(t, fullToken(), got)

			require.NoError(t, os.WriteFile(file, []byte(tt.content), 0o600))
			require.NoError(t, s.Delete(ctx, "k"), "Delete clears an unreadable file")
			_, v, err = s.Load(ctx, "k")
			require.ErrorIs(t, err, shoptoken.ErrNotFound)
			assert.Zero(t, v)
			nv, err = s.Save(ctx, "k", fullToken(), 0)
			require.NoError(t, err)
			assert.Equal(t, tt.version+2, nv, "versions continue above the damaged file's")
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
