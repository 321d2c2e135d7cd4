package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/shoptoken/shoptoken"
)

// dueChunk is the most keys one Schedule or Unschedule statement carries: 15 000 placeholders
// at most, well within both databases' 65 535, and a statement of a few hundred kilobytes.
const dueChunk = 5000

func checkNamespace(op, ns string) error {
	if len(ns) > maxNamespace {
		return fmt.Errorf("sqlstore: %s: a namespace of %d bytes; the longest a Store holds is %d", op, len(ns), maxNamespace)
	}
	return nil
}

// Schedule implements shoptoken.DueIndex: it sets (or moves) the due time of each key in
// namespace ns, kept to the millisecond, with one INSERT ... ON CONFLICT (ON DUPLICATE KEY)
// UPDATE of up to 5000 keys: one round trip up to 5000 keys, one more per 5000 beyond. Each
// statement applies whole, but a batch of several is not a transaction: if the database fails
// part-way, some chunks may have been written. When a key comes twice, the last due time counts.
// The rows are written in key order, so that concurrent batches lock them in the same order.
func (s *Store) Schedule(ctx context.Context, ns string, dues ...shoptoken.Due) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sqlstore: schedule in %q: %w", ns, err)
	}
	if len(dues) == 0 {
		return nil
	}
	if err := checkNamespace("schedule", ns); err != nil {
		return err
	}
	last := make(map[string]time.Time, len(dues))
	for _, d := range dues {
		if err := checkKey("schedule", d.Key); err != nil {
			return err
		}
		last[d.Key] = d.At
	}
	keys := make([]string, 0, len(last))
	for k := range last {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for lo := 0; lo < len(keys); lo += dueChunk {
		chunk := keys[lo:min(lo+dueChunk, len(keys))]
		var b strings.Builder
		b.WriteString(s.q.schedule)
		var args []any
		if s.d == Postgres {
			args = append(make([]any, 0, 1+2*len(chunk)), []byte(ns))
			for i, k := range chunk {
				if i > 0 {
					b.WriteString(", ")
				}
				fmt.Fprintf(&b, "($1, $%d, $%d)", 2+2*i, 3+2*i)
				args = append(args, []byte(k), last[k].UnixMilli())
			}
		} else {
			args = make([]any, 0, 3*len(chunk))
			for i, k := range chunk {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString("(?, ?, ?)")
				args = append(args, []byte(ns), []byte(k), last[k].UnixMilli())
			}
		}
		b.WriteString(s.q.scheduleEnd)
		err := retry(ctx, func() error {
			_, err := s.db.ExecContext(ctx, b.String(), args...)
			return err
		})
		if err != nil {
			return fmt.Errorf("sqlstore: schedule %d keys in %q: %w", len(dues), ns, err)
		}
	}
	return nil
}

// Unschedule implements shoptoken.DueIndex: one DELETE per 5000 keys (chunked as Schedule's).
// Removing an absent key is not an error.
func (s *Store) Unschedule(ctx context.Context, ns string, keys ...string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sqlstore: unschedule in %q: %w", ns, err)
	}
	if len(keys) == 0 {
		return nil
	}
	if err := checkNamespace("unschedule", ns); err != nil {
		return err
	}
	for lo := 0; lo < len(keys); lo += dueChunk {
		chunk := keys[lo:min(lo+dueChunk, len(keys))]
		args := make([]any, 0, 1+len(chunk))
		args = append(args, []byte(ns))
		for _, k := range chunk {
			args = append(args, []byte(k))
		}
		var b strings.Builder
		b.WriteString(s.q.unsched)
		placeholders(&b, s.d, 2, len(chunk))
		err := retry(ctx, func() error {
			_, err := s.db.ExecContext(ctx, b.String(), args...)
			return err
		})
		if err != nil {
			return fmt.Errorf("sqlstore: unschedule %d keys in %q: %w", len(keys), ns, err)
		}
	}
	return nil
}

// Due implements shoptoken.DueIndex: the keys of namespace ns due at or before now (to the
// millisecond), earliest first (ties in key order, byte by byte), up to limit; limit <= 0 means no
// limit. It is one query on the index (namespace, due_at, store_key), whose cost grows with the
// keys returned, not the keys scheduled. Due does not remove the keys: Schedule them again once
// refreshed, or Unschedule them.
func (s *Store) Due(ctx context.Context, ns string, now time.Time, limit int) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: due in %q: %w", ns, err)
	}
	if err := checkNamespace("due", ns); err != nil {
		return nil, err
	}
	query, args := s.q.due, []any{[]byte(ns), now.UnixMilli()}
	if limit > 0 {
		query, args = s.q.dueN, append(args, limit)
	}
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: due in %q: %w", ns, err)
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var k []byte
		if err := rows.Scan(&k); err != nil {
			return nil, fmt.Errorf("sqlstore: due in %q: %w", ns, err)
		}
		keys = append(keys, string(k))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: due in %q: %w", ns, err)
	}
	return keys, nil
}
