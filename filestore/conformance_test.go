//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package filestore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/seal"
	"github.com/shoptoken/shoptoken/storetest"
)

func TestStore_conformance(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts []Option
	}{
		{"plain", nil},
		{"sealed", []Option{WithSeal(testKeyring(t, "b", "a"))}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			storetest.Run(t, func(t *testing.T) *storetest.Harness {
				dir := t.TempDir()
				opts := append([]Option{WithPollInterval(20 * time.Millisecond)}, tt.opts...)
				s, p := newStore(t, dir, opts...), newStore(t, dir, opts...)
				return &storetest.Harness{Store: s, Peer: p, Damage: s.damage, Put: s.put, Stall: s.stall}
			})
		})
	}
}

// damage writes a file damaged as d says in place of key's data file.
func (s *Store) damage(_ context.Context, key string, d storetest.Damage, secret string) error {
	cur, _ := s.read(key)
	v := max(cur.version, 3)
	var data []byte
	switch d {
	case storetest.Garbage:
		data = []byte("\x00\x01garbage " + secret)
	case storetest.WrongTypes:
		rec, err := s.record(key, v, []byte(`{"access_token":["`+secret+`"],"expiry":"`+secret+`"}`))
		if err != nil {
			return err
		}
		if data, err = json.Marshal(rec); err != nil {
			return err
		}
	case storetest.BadVersion:
		data = []byte(`{"format":1,"key":` + quote(key) + `,"version":"v3","token":{"access_token":"` + secret + `"}}`)
	case storetest.BadSeal:
		if s.kr == nil {
			return errors.ErrUnsupported
		}
		// Sealed under the current key's id, with another secret.
		other, err := seal.New(seal.Key{ID: s.kr.Current(), Secret: bytes.Repeat([]byte{0xEE}, 32)})
		if err != nil {
			return err
		}
		rec, err := (&Store{kr: other}).record(key, v, []byte(`{"access_token":"`+secret+`"}`))
		if err != nil {
			return err
		}
		if data, err = json.Marshal(rec); err != nil {
			return err
		}
	case storetest.Foreign:
		data = []byte(`{"format":1,"key":"another program's key","version":9,"token":{"access_token":"` + secret + `"}}`)
	default:
		return errors.ErrUnsupported
	}
	return os.WriteFile(s.path(key, ".json"), data, 0o600)
}

// put writes tok under key at exactly version, sealed if the Store seals.
func (s *Store) put(_ context.Context, key string, tok *shoptoken.Token, version int64) error {
	plain, err := json.Marshal(tok)
	if err != nil {
		return err
	}
	rec, err := s.record(key, version, plain)
	if err != nil {
		return err
	}
	return s.write(key, rec)
}

// stall takes key's lease as a process that dies after ttl would hold it: the kernel drops the
// flock when the file is closed.
func (s *Store) stall(ctx context.Context, key string, ttl time.Duration) error {
	f, err := acquire(ctx, s.path(key, ".lease"), leaseWaitMin, leaseWaitMin)
	if err != nil {
		return err
	}
	time.AfterFunc(ttl, func() { _ = f.Close() })
	return nil
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestStore_sealing runs storetest's sealing suite: rotation across a fleet of Caches, and no
// secret in clear in any file of the directory.
func TestStore_sealing(t *testing.T) {
	storetest.RunSealing(t, func(t *testing.T) *storetest.SealHarness {
		dir := t.TempDir()
		names := &Store{dir: dir}
		return &storetest.SealHarness{
			Open: func(t *testing.T, kr *seal.Keyring) shoptoken.Store {
				return newStore(t, dir, WithPollInterval(20*time.Millisecond), WithSeal(kr))
			},
			Raw: func(_ context.Context, key string) (string, error) {
				b, err := os.ReadFile(names.path(key, ".json"))
				return string(b), err
			},
			Dump: func(context.Context) ([]string, error) {
				files, err := os.ReadDir(dir)
				if err != nil {
					return nil, err
				}
				var out []string
				for _, f := range files {
					b, err := os.ReadFile(filepath.Join(dir, f.Name()))
					if err != nil {
						return nil, err
					}
					out = append(out, f.Name(), string(b))
				}
				return out, nil
			},
		}
	})
}
