package sqlstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/storetest"
)

// TestStore_conformance runs the whole store suite against each database: every subtest on the
// same tables (storetest keeps keys and namespaces apart), Store and Peer on connection pools of
// their own, as two processes.
func TestStore_conformance(t *testing.T) {
	eachServer(t, func(t *testing.T, srv server) {
		e := newEnv(t, srv)
		storetest.Run(t, func(t *testing.T) *storetest.Harness {
			s := e.store(t, 0)
			stalled := e.store(t, 0, withoutRenewal())
			return &storetest.Harness{
				Store:  s,
				Peer:   e.store(t, 1),
				Damage: e.damage,
				Put:    e.put,
				Stall: func(ctx context.Context, key string, ttl time.Duration) error {
					_, err := stalled.Lock(ctx, key, ttl) // never renewed, never unlocked
					return err
				},
			}
		})
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
func (e *testEnv) damage(ctx context.Context, key string, d storetest.Damage, secret string) error {
	var value string
	switch d {
	case storetest.Garbage:
		value = "\x00\x01garbage " + secret
	case storetest.WrongTypes:
		value = `{"access_token":["` + secret + `"],"expiry":"` + secret + `"}`
	case storetest.Foreign:
		value = `["another program's value", "` + secret + `"]`
	default:
		// BadVersion: the version is a BIGINT, which holds nothing but numbers (Put tests
		// numbers out of range). BadSeal: the Store does not seal yet.
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

// put stores tok under key at exactly version, bypassing compare-and-swap.
func (e *testEnv) put(ctx context.Context, key string, tok *shoptoken.Token, version int64) error {
	data, err := encodeToken(tok)
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
