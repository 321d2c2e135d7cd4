package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// LeaseInfo reports who holds key's lease, for operators' tools: the holder's random owner id and
// when the lease lapses unless renewed, read by the database's clock and returned as a time of
// this host's; an empty owner when the lease is free (no row, or a lapsed one). It is one query
// and changes nothing.
func (s *Store) LeaseInfo(ctx context.Context, key string) (owner string, expires time.Time, err error) {
	if err := ctx.Err(); err != nil {
		return "", time.Time{}, fmt.Errorf("sqlstore: lease info %q: %w", key, err)
	}
	q := `SELECT owner, CAST(EXTRACT(EPOCH FROM (expires_at - now())) * 1000000 AS bigint) FROM ` +
		s.cfg.prefix + `leases WHERE store_key = $1 AND expires_at > now()`
	if s.d == MySQL {
		q = `SELECT owner, TIMESTAMPDIFF(MICROSECOND, UTC_TIMESTAMP(6), expires_at) FROM ` +
			s.cfg.prefix + `leases WHERE store_key = ? AND expires_at > UTC_TIMESTAMP(6)`
	}
	var left int64
	start := time.Now()
	err = s.db.QueryRowContext(ctx, q, []byte(key)).Scan(&owner, &left)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return "", time.Time{}, nil
	case err != nil:
		return "", time.Time{}, fmt.Errorf("sqlstore: lease info %q: %w", key, err)
	}
	return owner, start.Add(time.Duration(left) * time.Microsecond), nil
}
