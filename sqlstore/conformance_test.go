package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/seal"
	"github.com/shoptoken/shoptoken/storetest"
)

// TestStore_conformance runs the whole store suite against each database, with tokens in clear
// and sealed: every subtest on the same tables (storetest keeps keys and namespaces apart), Store
// and Peer on connection pools of their own, as two processes.
func TestStore_conformance(t *testing.T) {
	eachServer(t, func(t *testing.T, srv server) {
		e := newEnv(t, srv)
		for _, tt := range []struct {
			name string
			opts []Option
		}{
			{"plain", nil},
			{"sealed", []Option{WithSeal(testKeyring(t, "b", "a"))}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				storetest.Run(t, func(t *testing.T) *storetest.Harness {
					s := e.store(t, 0, tt.opts...)
					stalled := e.store(t, 0, append([]Option{withoutRenewal()}, tt.opts...)...)
					return &storetest.Harness{
						Store:  s,
						Peer:   e.store(t, 1, tt.opts...),
						Damage: e.damage(s),
						Put:    e.put(s),
						Stall: func(ctx context.Context, key string, ttl time.Duration) error {
							_, err := stalled.Lock(ctx, key, ttl) // never renewed, never unlocked
							return err
						},
					}
				})
			})
		}
	})
}

// TestStore_conformanceListening runs the suite with every Store listening for notifications
// (PostgreSQL), and polling only every 10 s, so that the watch and lease subtests pass only if
// the notifications wake them.
func TestStore_conformanceListening(t *testing.T) {
	srv := servers[0]
	e := newEnv(t, srv)
	storetest.Run(t, func(t *testing.T) *storetest.Harness {
		opts := []Option{WithListener(pgxListener(srv.source())), WithPollInterval(10 * time.Second)}
		return &storetest.Harness{
			Store: e.store(t, 0, opts...),
			Peer:  e.store(t, 1, opts...),
		}
	})
}

// damage writes d over key's row, as another program or a broken disk would: the token column
// only, the version kept (3 for a key without a row).
func (e *testEnv) damage(s *Store) func(ctx context.Context, key string, d storetest.Damage, secret string) error {
	return func(ctx context.Context, key string, d storetest.Damage, secret string) error {
		var value string
		switch d {
		case storetest.Garbage:
			value = "\x00\x01garbage " + secret
		case storetest.WrongTypes:
			value = `{"access_token":["` + secret + `"],"expiry":"` + secret + `"}`
		case storetest.Foreign:
			value = `["another program's value", "` + secret + `"]`
		case storetest.BadSeal:
			if s.cfg.kr == nil {
				return errors.ErrUnsupported
			}
			// Sealed under the current key's id, with another secret.
			other, err := seal.New(seal.Key{ID: s.cfg.kr.Current(), Secret: bytes.Repeat([]byte{0xEE}, 32)})
			if err != nil {
				return err
			}
			if value, err = other.Seal(key, []byte(`{"access_token":"`+secret+`"}`)); err != nil {
				return err
			}
		default:
			// BadVersion: the version is a BIGINT, which holds nothing but numbers (Put tests
			// numbers out of range).
			return errors.ErrUnsupported
		}
		q := `INSERT INTO {tokens} (store_key, version, token, updated_at) VALUES ($1, 3, $2, now())
ON CONFLICT (store_key) DO UPDATE SET token = EXCLUDED.token`
		if e.srv.d == MySQL {
			q = `INSERT INTO {tokens} (store_key, version, token, updated_at) VALUES (?, 3, ?, UTC_TIMESTAMP(6))
ON DUPLICATE KEY UPDATE token = VALUES(token)`
		}
		_, err := e.admin.ExecContext(ctx, e.sql(q), []byte(key), []byte(value))
		return err
	}
}

// put returns a function that stores tok under key at exactly version, bypassing
// compare-and-swap, encoded (sealed or not) as s encodes it.
func (e *testEnv) put(s *Store) func(ctx context.Context, key string, tok *shoptoken.Token, version int64) error {
	return func(ctx context.Context, key string, tok *shoptoken.Token, version int64) error {
		data, err := s.codec.encode(key, tok)
		if err != nil {
			return err
		}
		q := `INSERT INTO {tokens} (store_key, version, token, updated_at) VALUES ($1, $2, $3, now())
ON CONFLICT (store_key) DO UPDATE SET version = EXCLUDED.version, token = EXCLUDED.token`
		if e.srv.d == MySQL {
			q = `INSERT INTO {tokens} (store_key, version, token, updated_at) VALUES (?, ?, ?, UTC_TIMESTAMP(6))
ON DUPLICATE KEY UPDATE version = VALUES(version), token = VALUES(token)`
		}
		_, err = e.admin.ExecContext(ctx, e.sql(q), []byte(key), version, data)
		return err
	}
}

// TestStore_sealing runs storetest's sealing suite on each database: rotation across a fleet of
// Caches, Reseal, and no secret in clear anywhere in the test's tables (every column of every
// row scanned).
func TestStore_sealing(t *testing.T) {
	eachServer(t, func(t *testing.T, srv server) {
		storetest.RunSealing(t, func(t *testing.T) *storetest.SealHarness {
			e := newEnv(t, srv) // tables of its own, so that Dump sees only this subtest's rows
			var opened atomic.Int64
			return &storetest.SealHarness{
				Open: func(t *testing.T, kr *seal.Keyring) shoptoken.Store {
					// A pool of its own every other time, as processes have.
					return e.store(t, int(opened.Add(1)), WithSeal(kr))
				},
				Raw: func(ctx context.Context, key string) (string, error) {
					var tok []byte
					err := e.admin.QueryRowContext(ctx, e.sql(`SELECT token FROM {tokens} WHERE store_key = `+e.param(1)), []byte(key)).Scan(&tok)
					return string(tok), err
				},
				Dump: e.dump,
			}
		})
	})
}

// param is the n-th placeholder of the env's dialect.
func (e *testEnv) param(n int) string {
	if e.srv.d == Postgres {
		return "$" + strconv.Itoa(n)
	}
	return "?"
}

// dump returns every value of every row of the env's tables, as strings: keys, tokens, lease
// owners, namespaces, times.
func (e *testEnv) dump(ctx context.Context) ([]string, error) {
	var out []string
	for _, table := range []string{"{tokens}", "{leases}", "{due}"} {
		rows, err := e.admin.QueryContext(ctx, e.sql("SELECT * FROM "+table))
		if err != nil {
			return nil, err
		}
		cols, err := rows.Columns()
		if err != nil {
			rows.Close()
			return nil, err
		}
		vals := make([]sql.RawBytes, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				rows.Close()
				return nil, err
			}
			for _, v := range vals {
				out = append(out, string(v))
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
