//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package filestore

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/seal"
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

// testSealKey returns a seal key named id whose secret is derived from id.
func testSealKey(id string) seal.Key {
	return seal.Key{ID: id, Secret: bytes.Repeat([]byte(id[:1]), 32)}
}

func mustKeyring(t testing.TB, current seal.Key, older ...seal.Key) *seal.Keyring {
	t.Helper()
	kr, err := seal.New(current, older...)
	require.NoError(t, err)
	return kr
}

// testKeyring returns a keyring of testSealKey(id) for each id, the first current.
func testKeyring(t testing.TB, ids ...string) *seal.Keyring {
	t.Helper()
	keys := make([]seal.Key, len(ids))
	for i, id := range ids {
		keys[i] = testSealKey(id)
	}
	return mustKeyring(t, keys[0], keys[1:]...)
}

// readAny returns the id of the key that seals key's file, whatever keyring s has: it reads the
// id from the file.
func (s *Store) readAny(key string) (string, error) {
	data, err := os.ReadFile(s.path(key, ".json"))
	if err != nil {
		return "", err
	}
	var rec record
	if err := json.Unmarshal(data, &rec); err != nil {
		return "", err
	}
	var sealed string
	if err := json.Unmarshal(rec.Token, &sealed); err != nil {
		return "", err // in clear
	}
	id, _, _ := strings.Cut(strings.TrimPrefix(sealed, "seal:v1:"), ":")
	return id, nil
}

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
	kr := testKeyring(t, "a")
	s := newStore(t, dir, WithSeal(kr))
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
	assert.Contains(t, string(data), `"token":"seal:v1:a:`)

	assertCorrupt := func(t *testing.T, err error, reason string, kind error) {
		t.Helper()
		require.ErrorIs(t, err, shoptoken.ErrCorrupt)
		if kind != nil {
			require.ErrorIs(t, err, kind)
		}
		assert.NotErrorIs(t, err, shoptoken.ErrNotFound)
		assert.Contains(t, err.Error(), filepath.Base(file))
		assert.Contains(t, err.Error(), reason)
		assert.NotContains(t, err.Error(), "SECRET")
	}

	t.Run("a keyring without the key", func(t *testing.T) {
		_, _, err := newStore(t, dir, WithSeal(testKeyring(t, "b"))).Load(ctx, "youzan/88888")
		assertCorrupt(t, err, `key "a"`, seal.ErrUnknownKey)
	})
	t.Run("another secret under the same id", func(t *testing.T) {
		other, err := seal.New(seal.Key{ID: "a", Secret: bytes.Repeat([]byte{8}, 32)})
		require.NoError(t, err)
		_, _, err = newStore(t, dir, WithSeal(other)).Load(ctx, "youzan/88888")
		assertCorrupt(t, err, "does not authenticate", seal.ErrDamaged)
	})
	t.Run("unsealed store", func(t *testing.T) {
		_, _, err := newStore(t, dir).Load(ctx, "youzan/88888")
		assertCorrupt(t, err, "no keyring", nil)
	})
	t.Run("version altered", func(t *testing.T) {
		altered := bytes.Replace(data, []byte(`"version":1`), []byte(`"version":7`), 1)
		require.NotEqual(t, data, altered)
		require.NoError(t, os.WriteFile(file, altered, 0o600))
		defer func() { require.NoError(t, os.WriteFile(file, data, 0o600)) }()
		_, _, err := s.Load(ctx, "youzan/88888")
		assertCorrupt(t, err, "altered", seal.ErrDamaged)
	})
	t.Run("file swapped between keys", func(t *testing.T) {
		other := s.path("youzan/99999", ".json")
		// Give it the right key name in the clear too: only the sealed part is authentic.
		swapped := bytes.Replace(data, []byte("youzan/88888"), []byte("youzan/99999"), 1)
		require.NoError(t, os.WriteFile(other, swapped, 0o600))
		_, _, err := s.Load(ctx, "youzan/99999")
		require.ErrorIs(t, err, shoptoken.ErrCorrupt)
		require.ErrorIs(t, err, seal.ErrDamaged)
		assert.Contains(t, err.Error(), "altered")
	})
	t.Run("sealed store on a plain file", func(t *testing.T) {
		// A file written before sealing was turned on loads, and is sealed by the next Save.
		plainDir := t.TempDir()
		_, err := newStore(t, plainDir).Save(ctx, "k", fullToken(), 0)
		require.NoError(t, err)
		sealed := newStore(t, plainDir, WithSeal(kr))
		got, v, err := sealed.Load(ctx, "k")
		require.NoError(t, err)
		assert.Equal(t, int64(1), v)
		assert.Equal(t, fullToken(), got)
		v, err = sealed.Save(ctx, "k", got, v)
		require.NoError(t, err)
		assert.Equal(t, int64(2), v)
		raw, err := os.ReadFile(sealed.path("k", ".json"))
		require.NoError(t, err)
		assert.Contains(t, string(raw), `"token":"seal:v1:a:`)
		assert.NotContains(t, string(raw), "SECRET")
	})
	t.Run("a file of the pre-release WithSealKey", func(t *testing.T) {
		legacy := `{"format":1,"key":"old","version":4,"sealed":"` + strings.Repeat("QUJD", 20) + `"}`
		require.NoError(t, os.WriteFile(s.path("old", ".json"), []byte(legacy), 0o600))
		_, v, err := s.Load(ctx, "old")
		require.ErrorIs(t, err, shoptoken.ErrCorrupt)
		assert.Contains(t, err.Error(), "WithSealKey")
		assert.Equal(t, int64(4), v)
	})
	t.Run("original still loads", func(t *testing.T) {
		got, v, err := s.Load(ctx, "youzan/88888")
		require.NoError(t, err)
		assert.Equal(t, int64(1), v)
		assert.Equal(t, fullToken(), got)
	})
}

// TestStore_sealRotation: seal with A; make B current; files sealed with A still load and are
// sealed with B by their next Save; once A is dropped, the files never saved again are damaged.
func TestStore_sealRotation(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a, b := testSealKey("a"), testSealKey("b")
	onlyA := newStore(t, dir, WithSeal(mustKeyring(t, a)))
	for _, k := range []string{"shop/1", "shop/2"} {
		_, err := onlyA.Save(ctx, k, fullToken(), 0)
		require.NoError(t, err)
	}
	sealedWith := func(key string) string {
		t.Helper()
		e, err := onlyA.readAny(key)
		require.NoError(t, err)
		return e
	}
	assert.Equal(t, "a", sealedWith("shop/1"))

	addB := newStore(t, dir, WithSeal(mustKeyring(t, a, b))) // step 1: B opens
	bNow := newStore(t, dir, WithSeal(mustKeyring(t, b, a))) // step 2: B seals
	for _, s := range []*Store{onlyA, addB, bNow} {
		got, v, err := s.Load(ctx, "shop/1")
		require.NoError(t, err)
		assert.Equal(t, int64(1), v)
		assert.Equal(t, fullToken(), got)
	}
	_, err := bNow.Save(ctx, "shop/1", fullToken(), 1)
	require.NoError(t, err)
	assert.Equal(t, "b", sealedWith("shop/1"), "re-sealed with the current key by the next Save")
	assert.Equal(t, "a", sealedWith("shop/2"), "not written since: still sealed with A")
	_, _, err = addB.Load(ctx, "shop/1")
	require.NoError(t, err, "a process at step 1 opens what step 2 writes")
	_, _, err = onlyA.Load(ctx, "shop/1")
	require.ErrorIs(t, err, seal.ErrUnknownKey, "a process that skipped step 1 cannot")

	onlyB := newStore(t, dir, WithSeal(mustKeyring(t, b))) // step 3: A dropped
	_, v, err := onlyB.Load(ctx, "shop/1")
	require.NoError(t, err)
	assert.Equal(t, int64(2), v)
	_, v, err = onlyB.Load(ctx, "shop/2")
	require.ErrorIs(t, err, shoptoken.ErrCorrupt)
	require.ErrorIs(t, err, seal.ErrUnknownKey)
	assert.Equal(t, int64(1), v, "the version that replaces the damage")
	_, err = onlyB.Save(ctx, "shop/2", fullToken(), v)
	require.NoError(t, err)
	assert.Equal(t, "b", sealedWith("shop/2"))
}

func TestNew_options(t *testing.T) {
	_, err := New("")
	require.Error(t, err)

	s, err := New(t.TempDir(), WithPollInterval(0))
	require.NoError(t, err)
	assert.Equal(t, defaultPoll, s.poll)

	s, err = New(t.TempDir(), WithSeal(nil))
	require.NoError(t, err)
	assert.Nil(t, s.kr, "WithSeal(nil) stores in clear")
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
