package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/watchhub"
)

// Lock implements shoptoken.Locker. The lease is a row of the leases table holding a random owner
// id and an expiry, both written by one statement, the expiry by the database's clock, so hosts
// whose clocks disagree still agree on when a lease lapses. While it is held a goroutine extends
// it every ttl/3, but only while this owner still holds it; if the process dies or stalls, the
// lease lapses after ttl and another process may take it. A lease is therefore advice, not a
// guarantee: writes must still go through Save's version check, which rejects a holder that
// stalled past its lease (fencing by version).
//
// While the lease is taken, Lock tries again every poll interval, and at once when the holder
// unlocks through this Store or (WithListener) any PostgreSQL Store, until ctx ends (returning an
// error wrapping ctx's). An error from the database ends the wait at once, wrapped.
//
// unlock stops the renewal and deletes the lease only if this owner still holds it (a lease taken
// over by another holder is left alone), then wakes the waiters. It may be called more than once.
// If the database cannot be reached then, the lease lapses after ttl.
func (s *Store) Lock(ctx context.Context, key string, ttl time.Duration) (func(), error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: lock %q: %w", key, err)
	}
	if err := s.checkLease("lock", key, ttl); err != nil {
		return nil, err
	}
	owner := rand.Text()   // 128 random bits
	var m *watchhub.Member // set while this Lock waits for the unlock
	defer func() {
		if m != nil {
			s.hub.Leave(key, m, nil)
		}
	}()
	for {
		taken, err := s.acquire(ctx, key, owner, ttl)
		if err != nil {
			s.abandon(key, owner) // the statement may have taken it before failing
			if ctx.Err() != nil {
				return nil, fmt.Errorf("sqlstore: lock %q: %w", key, ctx.Err())
			}
			return nil, fmt.Errorf("sqlstore: lock %q: %w", key, err)
		}
		if taken {
			return s.hold(key, owner, ttl), nil
		}
		var wake chan struct{}
		if m == nil {
			// Listen for the unlock before trying again, so that it cannot slip between the two.
			if w := watchhub.NewWait(); s.hub.Join(key, w, nil) {
				m = w
				s.hub.awaitListening(ctx)
				continue
			}
		} else {
			wake = m.C
		}
		t := time.NewTimer(s.cfg.poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("sqlstore: lock %q: %w", key, ctx.Err())
		case <-wake:
		case <-t.C:
		}
		t.Stop()
	}
}

func (s *Store) checkLease(op, key string, ttl time.Duration) error {
	if ttl < time.Millisecond {
		return fmt.Errorf("sqlstore: %s %q: ttl %v is shorter than a millisecond", op, key, ttl)
	}
	return checkKey(op, key)
}

// acquire takes the lease on key for owner if it is free or has lapsed: one statement on
// PostgreSQL; on MySQL one, and a second (INSERT IGNORE) for the first lease of a key.
func (s *Store) acquire(ctx context.Context, key, owner string, ttl time.Duration) (taken bool, err error) {
	err = retry(ctx, func() error {
		var err error
		taken, err = s.tryAcquire(ctx, key, owner, ttl)
		return err
	})
	return taken, err
}

func (s *Store) tryAcquire(ctx context.Context, key, owner string, ttl time.Duration) (bool, error) {
	us := ttl.Microseconds()
	if s.d == Postgres {
		var one int
		err := s.db.QueryRowContext(ctx, s.q.lock, []byte(key), owner, us).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return false, nil
		}
		return err == nil, err
	}
	n, _, err := s.exec(ctx, s.q.lock, owner, us, []byte(key))
	if err != nil || n == 1 {
		return n == 1, err
	}
	n, _, err = s.exec(ctx, s.q.lockOver, []byte(key), owner, us)
	return n == 1, err
}

// abandon releases, in the background, a lease a failed statement may have taken, so that it
// does not stand in the way for a whole ttl.
func (s *Store) abandon(key, owner string) {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.release(ctx, key, owner)
	}()
}

// TryLockLoad implements shoptoken.LeaseLoader: it takes the lease on key if it is free (as Lock
// does, without waiting) and reads the token either way, so the LeaseLoad holds what Load would
// have returned (ErrNotFound, or ErrCorrupt with the version that replaces the damage). On
// PostgreSQL that is one statement; on MySQL, which cannot write and read in one statement, the
// lease's statement and then Load's. It never waits for a lease another holder has: Unlock is
// then nil. A lease it takes is renewed and released exactly as Lock's.
//
// An error means the round trip failed (ctx ended, the database unreachable) and no lease was
// handed out; one the statement may have taken is released in the background.
func (s *Store) TryLockLoad(ctx context.Context, key string, ttl time.Duration) (shoptoken.LeaseLoad, error) {
	if err := ctx.Err(); err != nil {
		return shoptoken.LeaseLoad{}, fmt.Errorf("sqlstore: try lock %q: %w", key, err)
	}
	if err := s.checkLease("try lock", key, ttl); err != nil {
		return shoptoken.LeaseLoad{}, err
	}
	owner := rand.Text()
	if s.d == MySQL {
		taken, err := s.acquire(ctx, key, owner, ttl)
		if err != nil {
			s.abandon(key, owner)
			return shoptoken.LeaseLoad{}, fmt.Errorf("sqlstore: try lock %q: %w", key, err)
		}
		var ll shoptoken.LeaseLoad
		ll.Token, ll.Version, ll.LoadErr = s.Load(ctx, key)
		if ll.LoadErr != nil && !errors.Is(ll.LoadErr, shoptoken.ErrNotFound) && !errors.Is(ll.LoadErr, shoptoken.ErrCorrupt) {
			if taken {
				s.abandon(key, owner)
			}
			return shoptoken.LeaseLoad{}, fmt.Errorf("sqlstore: try lock %q: %w", key, ll.LoadErr)
		}
		if taken {
			ll.Unlock = s.hold(key, owner, ttl)
		}
		return ll, nil
	}
	var (
		taken bool
		v     sql.NullInt64
		tok   sql.Null[[]byte]
	)
	err := s.db.QueryRowContext(ctx, s.q.tryLockLoad, []byte(key), owner, ttl.Microseconds()).Scan(&taken, &v, &tok)
	if err != nil {
		s.abandon(key, owner)
		return shoptoken.LeaseLoad{}, fmt.Errorf("sqlstore: try lock %q: %w", key, err)
	}
	var ll shoptoken.LeaseLoad
	if v.Valid {
		ll.Token, ll.Version, ll.LoadErr = s.readRow(key, v.Int64, tok)
	} else {
		ll.LoadErr = shoptoken.ErrNotFound
	}
	if taken {
		ll.Unlock = s.hold(key, owner, ttl)
	}
	return ll, nil
}

// hold starts renewing a lease just taken and returns its unlock.
func (s *Store) hold(key, owner string, ttl time.Duration) func() {
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		if !s.cfg.noRenew {
			s.renew(key, owner, ttl, stop)
		}
	}()
	return sync.OnceFunc(func() {
		close(stop)
		<-done
		ctx, cancel := context.WithTimeout(context.Background(), max(ttl, time.Second))
		defer cancel()
		_ = s.release(ctx, key, owner)
		s.hub.Unlocked(key)
	})
}

// release deletes the lease (MySQL: expires it) only while owner holds it, and on PostgreSQL
// notifies the waiters.
func (s *Store) release(ctx context.Context, key, owner string) error {
	return retry(ctx, func() error {
		var err error
		if s.d == Postgres {
			_, err = s.db.ExecContext(ctx, s.q.release, []byte(key), owner, s.channel, notice('u', key))
		} else {
			_, err = s.db.ExecContext(ctx, s.q.release, []byte(key), owner)
		}
		return err
	})
}

// renew extends the lease every ttl/3 until stop, or until it finds the lease is no longer its
// owner's. A failed attempt is retried at the next tick; the lease lapses if they all fail. A
// lease that lapsed but that nobody took is its owner's still, and is renewed.
func (s *Store) renew(key, owner string, ttl time.Duration, stop <-chan struct{}) {
	every := max(ttl/3, time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	us := ttl.Microseconds()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), max(every, 100*time.Millisecond))
		var n int64
		var err error
		if s.d == Postgres {
			n, _, err = s.exec(ctx, s.q.renew, []byte(key), owner, us)
		} else {
			n, _, err = s.exec(ctx, s.q.renew, us, []byte(key), owner)
		}
		cancel()
		if err == nil && n == 0 {
			return // lost: lapsed and taken by another holder
		}
	}
}

// retryable reports whether err is a deadlock or a serialization failure: the database rolled the
// statement back, so running it again is safe. InnoDB reports such deadlocks between lease and
// due-index statements that lock rows and gaps in different orders.
func retryable(err error) bool {
	var st interface{ SQLState() string } // pgx's *pgconn.PgError, among others
	if errors.As(err, &st) {
		c := st.SQLState()
		return c == "40001" || c == "40P01"
	}
	// go-sql-driver/mysql's *MySQLError keeps the state in a field, and puts it in its message:
	// "Error 1213 (40001): Deadlock found ...".
	return err != nil && strings.Contains(err.Error(), " (40001): ")
}

// retry runs f, and again up to twice after a short pause when the database rolled it back for
// a deadlock.
func retry(ctx context.Context, f func() error) error {
	for attempt := 1; ; attempt++ {
		err := f()
		if attempt == 3 || !retryable(err) || ctx.Err() != nil {
			return err
		}
		t := time.NewTimer(time.Duration(attempt) * time.Duration(1+mrand.IntN(5)) * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}
