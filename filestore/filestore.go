package filestore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/reseal"
	"github.com/shoptoken/shoptoken/internal/tokenjson"
	"github.com/shoptoken/shoptoken/seal"
)

// ErrCorrupt is shoptoken.ErrCorrupt, which the error of Load wraps for a token file it cannot
// read: damaged, altered, belonging to another key, with a version out of range, sealed with a
// key the Store's keyring does not list, or sealed when the Store has no keyring. The error names
// the key and the file, never the token.
//
// Deprecated: use shoptoken.ErrCorrupt, which is the same value.
var ErrCorrupt = shoptoken.ErrCorrupt

var (
	_ shoptoken.Store       = (*Store)(nil)
	_ shoptoken.Locker      = (*Store)(nil)
	_ shoptoken.LeaseLoader = (*Store)(nil)
	_ shoptoken.Watcher     = (*Store)(nil)
)

const (
	defaultPoll = 200 * time.Millisecond
	// formatV1 is the only file layout so far; a reader refuses any other.
	formatV1 = 1
	// maxFileSize bounds what Load reads: a token file is a few hundred bytes.
	maxFileSize = 1 << 20
	// maxPlainKey is the longest key (in bytes) whose file name is its base32 encoding; longer
	// keys are named by their SHA-256 so that every name stays well below 255 bytes.
	maxPlainKey = 100
)

// Store is a shoptoken.Store, shoptoken.Locker, shoptoken.LeaseLoader and shoptoken.Watcher on
// files in one directory. It is safe for concurrent use by goroutines and by processes on the
// same host that open the same directory. Create it with New; the zero value is not usable.
type Store struct {
	dir  string
	kr   *seal.Keyring // nil: tokens are stored in the clear
	poll time.Duration
}

// Option configures a Store.
type Option func(*config)

type config struct {
	kr   *seal.Keyring
	poll time.Duration
}

// WithSeal seals every token the Store writes with kr's current key, and opens tokens sealed with
// any key kr lists (see package seal, which also says how to rotate keys across processes). Files
// written in the clear before sealing was turned on still load, and are sealed when their key is
// next saved. A file sealed with a key kr does not list, or altered, is damaged
// (shoptoken.ErrCorrupt, wrapping seal.ErrUnknownKey or seal.ErrDamaged), and so are sealed files
// for a Store without a keyring: a Cache then replaces the token. A nil kr leaves tokens in clear.
func WithSeal(kr *seal.Keyring) Option {
	return func(c *config) { c.kr = kr }
}

// WithPollInterval sets how often Watch checks the file and the longest pause between attempts
// to take a lease in Lock. Zero or negative means the default, 200ms.
func WithPollInterval(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.poll = d
		}
	}
}

// New returns a Store keeping its files in dir. It creates dir (and its parents) with mode 0700
// when missing. It refuses a dir that is not a directory or that group or others may write to,
// since anyone who can write there can replace tokens. It reports an error on operating systems
// without flock(2), such as Windows.
func New(dir string, opts ...Option) (*Store, error) {
	if err := supported(); err != nil {
		return nil, err
	}
	cfg := config{poll: defaultPoll}
	for _, o := range opts {
		o(&cfg)
	}
	if dir == "" {
		return nil, errors.New("filestore: dir is empty")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("filestore: %w", err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("filestore: %w", err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("filestore: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("filestore: %s is not a directory", abs)
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return nil, fmt.Errorf("filestore: %s is writable by group or others (mode %#o); use mode 0700", abs, perm)
	}
	return &Store{dir: abs, kr: cfg.kr, poll: cfg.poll}, nil
}

// Dir returns the absolute path of the directory holding the Store's files.
func (s *Store) Dir() string { return s.dir }

var nameEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// stem is the file name of key without extension. Base32 uses only [a-z2-7] once lowercased, so
// no key can name a path outside the directory, and two keys differing only in case stay apart on
// case-insensitive file systems. The "k-" and "h-" prefixes keep the two schemes from colliding.
func stem(key string) string {
	if len(key) <= maxPlainKey {
		return "k-" + strings.ToLower(nameEncoding.EncodeToString([]byte(key)))
	}
	sum := sha256.Sum256([]byte(key))
	return "h-" + hex.EncodeToString(sum[:])
}

func (s *Store) path(key, ext string) string {
	return filepath.Join(s.dir, stem(key)+ext)
}

// record is the JSON content of a data file. Token holds the token as a JSON object when the
// Store does not seal, and as a JSON string holding the sealed token (package seal) when it does.
// Key and Version are in the clear and, when sealed, bound to the token (seal's additional data).
type record struct {
	Format  int             `json:"format"`
	Key     string          `json:"key"`
	Version int64           `json:"version"`
	Deleted bool            `json:"deleted,omitempty"`
	Token   json.RawMessage `json:"token,omitempty"`
	// Legacy is where WithSealKey, before package seal, kept its sealed tokens: such a file no
	// longer opens, and is reported as damage saying so.
	Legacy json.RawMessage `json:"sealed,omitempty"`
}

// entry is what a data file says about its key. version is 0 when there is no file.
type entry struct {
	version  int64
	live     bool // false for no file and for a tombstone
	tok      *shoptoken.Token
	sealedBy string // the id of the key that opened the token; "" when it was stored in clear
}

// read returns the entry stored for key. On an ErrCorrupt error the entry carries the version
// from the file's header when that could be read and is in range, 0 otherwise: the version Load
// reports, Save accepts as prev, and the next version follows.
func (s *Store) read(key string) (entry, error) {
	path := s.path(key, ".json")
	data, err := readFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return entry{}, nil
	}
	if err != nil {
		return entry{}, fmt.Errorf("filestore: key %q: %w", key, err) // ErrCorrupt if too large
	}
	corrupt := func(e entry, reason string) (entry, error) {
		return e, fmt.Errorf("filestore: key %q: %s: %w: %s", key, path, ErrCorrupt, reason)
	}
	var rec record
	if err := json.Unmarshal(data, &rec); err != nil {
		// The decoder's message may quote file content, so it is not passed on.
		return corrupt(entry{}, "not valid JSON")
	}
	if rec.Format != formatV1 {
		return corrupt(entry{}, "unknown format "+strconv.Itoa(rec.Format))
	}
	if rec.Version < 1 || rec.Version > shoptoken.MaxVersion {
		return corrupt(entry{}, "version out of range")
	}
	e := entry{version: rec.Version}
	if rec.Key != key {
		k := rec.Key
		if len(k) > 80 {
			k = k[:80] + "…" // a key is file content here: a damaged file must not fill the message
		}
		return corrupt(e, fmt.Sprintf("the file belongs to key %q", k))
	}
	if rec.Deleted {
		if rec.Token != nil || rec.Legacy != nil {
			return corrupt(e, "deleted entry carries a token")
		}
		return e, nil
	}
	if rec.Legacy != nil {
		return corrupt(e, "sealed by a pre-release filestore.WithSealKey, whose format no longer opens")
	}
	plain := bytes.TrimSpace(rec.Token)
	if len(plain) > 0 && plain[0] == '"' {
		var sealed string
		if err := json.Unmarshal(plain, &sealed); err != nil || !seal.IsSealed(sealed) {
			return corrupt(e, "token is not a JSON object")
		}
		if s.kr == nil {
			return corrupt(e, "sealed, but the store has no keyring (filestore.WithSeal)")
		}
		if plain, e.sealedBy, err = s.kr.Open(bind(key, rec.Version), sealed); err != nil {
			// Both matchable: shoptoken.ErrCorrupt for the Cache, seal's kind for an operator.
			return e, fmt.Errorf("filestore: key %q: %s: %w: %w", key, path, ErrCorrupt, err)
		}
	}
	if len(plain) == 0 {
		return corrupt(e, "no token")
	}
	tok, err := tokenjson.UnmarshalBytes(plain)
	switch {
	case errors.Is(err, tokenjson.ErrNotObject):
		return corrupt(e, "token is not a JSON object")
	case err != nil:
		return corrupt(e, "token is not valid JSON")
	}
	e.live, e.tok = true, tok
	return e, nil
}

func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("%s: %w: larger than %d bytes", path, ErrCorrupt, maxFileSize)
	}
	return data, nil
}

// bind is what a sealed token is bound to: its key and version, so that a file copied to another
// key's name, or with its version edited, fails to open.
func bind(key string, version int64) string {
	return key + "\x00" + strconv.FormatInt(version, 10)
}

// Load implements shoptoken.Store. It takes no lock: files are replaced by rename, so a reader
// sees either the old or the new file, never part of one. For a file it cannot read it returns an
// error wrapping shoptoken.ErrCorrupt and the version to replace it with Save: the file's, or 0
// when the file shows no version in 1..MaxVersion.
func (s *Store) Load(ctx context.Context, key string) (*shoptoken.Token, int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	e, err := s.read(key)
	if err != nil {
		if errors.Is(err, ErrCorrupt) {
			return nil, e.version, err
		}
		return nil, 0, err
	}
	if !e.live {
		return nil, 0, shoptoken.ErrNotFound
	}
	return e.tok, e.version, nil
}

// Save implements shoptoken.Store. The compare and the write happen under an exclusive flock on
// the key's lock file, so they are atomic across goroutines and processes. prev 0 matches both
// an absent key and a deleted one; after a Delete the next version continues from the deleted
// one's instead of restarting at 1. A file that cannot be read (shoptoken.ErrCorrupt) is replaced
// when prev is the version Load reported for it; the next version follows the file's, or is 1
// when the file shows none.
func (s *Store) Save(ctx context.Context, key string, tok *shoptoken.Token, prev int64) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if tok == nil {
		return 0, fmt.Errorf("filestore: save %q: nil token", key)
	}
	plain, err := tokenjson.Marshal(tok)
	if err != nil {
		return 0, fmt.Errorf("filestore: save %q: %w", key, err)
	}
	unlock, err := s.lockWrite(ctx, key)
	if err != nil {
		return 0, err
	}
	defer unlock()
	cur, err := s.read(key)
	damaged := errors.Is(err, ErrCorrupt)
	if err != nil && !damaged {
		return 0, err
	}
	want := cur.version // a live token's, or the damaged file's
	if !cur.live && !damaged {
		want = 0 // absent or deleted
	}
	if prev != want {
		return 0, shoptoken.ErrConflict
	}
	next := shoptoken.NextVersion(cur.version)
	rec, err := s.record(key, next, plain)
	if err != nil {
		return 0, fmt.Errorf("filestore: save %q: %w", key, err)
	}
	if err := s.write(key, rec); err != nil {
		return 0, err
	}
	return next, nil
}

// record returns the data file content for the token JSON plain at version, sealed if the Store
// seals.
func (s *Store) record(key string, version int64, plain []byte) (record, error) {
	rec := record{Format: formatV1, Key: key, Version: version}
	if s.kr == nil {
		rec.Token = plain
		return rec, nil
	}
	sealed, err := s.kr.Seal(bind(key, version), plain)
	if err != nil {
		return record{}, err
	}
	rec.Token, err = json.Marshal(sealed)
	return rec, err
}

// Reseal rewrites each of keys whose token is not sealed with the Store's current key (sealed with
// an older key of its keyring, or stored in clear) through Save, which seals it with the current
// key: the last part of a key rotation (see package seal), for keys that nothing has written since
// the new key became current. It returns how many it rewrote. A key without a token is skipped; a
// key written meanwhile (shoptoken.ErrConflict) was sealed by its writer and is skipped too. A
// key that does not load (damage, such as a token sealed with a key the keyring lacks) is left as
// it is and reported in the error, which joins every failure.
func (s *Store) Reseal(ctx context.Context, keys []string) (int, error) {
	if s.kr == nil {
		return 0, errors.New("filestore: reseal: the Store has no keyring (WithSeal)")
	}
	return reseal.Run(ctx, "filestore", s.kr.Current(), keys, func(k string) (reseal.Stored, error) {
		e, err := s.read(k)
		switch {
		case err != nil:
			return reseal.Stored{}, err
		case !e.live:
			return reseal.Stored{}, shoptoken.ErrNotFound
		}
		return reseal.Stored{Token: e.tok, Version: e.version, SealedBy: e.sealedBy}, nil
	}, s.Save)
}

// Delete implements shoptoken.Store. It replaces the token with a tombstone that records the next
// version, so versions keep growing and a writer holding the deleted version gets
// shoptoken.ErrConflict. Load reports a tombstone as shoptoken.ErrNotFound with version 0. Delete
// also clears a file that cannot be read (shoptoken.ErrCorrupt). Deleting an absent key is not an
// error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	unlock, err := s.lockWrite(ctx, key)
	if err != nil {
		return err
	}
	defer unlock()
	cur, err := s.read(key)
	switch {
	case errors.Is(err, ErrCorrupt):
	case err != nil:
		return err
	case !cur.live:
		return nil // absent or already a tombstone
	}
	return s.write(key, record{Format: formatV1, Key: key, Version: shoptoken.NextVersion(cur.version), Deleted: true})
}

// write replaces key's data file with rec: a temporary file in the same directory is written,
// synced and renamed over the old one, then the directory is synced so the rename survives a
// crash. Readers see the old file or the new one, never a partial one.
func (s *Store) write(key string, rec record) (err error) {
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("filestore: save %q: %w", key, err)
	}
	name := stem(key)
	f, err := os.CreateTemp(s.dir, ".tmp-"+name+"-*") // mode 0600
	if err != nil {
		return fmt.Errorf("filestore: save %q: %w", key, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("filestore: save %q: %w", key, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("filestore: save %q: %w", key, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("filestore: save %q: %w", key, err)
	}
	if err = os.Rename(tmp, filepath.Join(s.dir, name+".json")); err != nil {
		return fmt.Errorf("filestore: save %q: %w", key, err)
	}
	if derr := syncDir(s.dir); derr != nil {
		// The new file is in place and visible; only its durability across a crash is in doubt.
		return fmt.Errorf("filestore: save %q: written, but syncing the directory: %w", key, derr)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
