package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/kilnbuild/kiln/internal/lease"
)

// Leases returns the lease store kept in the same database as the objects
// (table leases). Every process on the database shares it; expiry is
// judged by the database's clock.
func (s *Store) Leases() lease.HolderRenewer {
	db := s.rdb
	if s.d == sqliteDialect {
		db = s.wdb // the reader pool is query-only
	}
	return &leases{s: s, db: db, now: s.d.nowMS}
}

type leases struct {
	s   *Store
	db  *sql.DB
	now string // SQL expression: the database's clock in Unix milliseconds
}

func (l *leases) q(query string) string { return fmt.Sprintf(query, l.now, l.now) }

// sqlAcquire takes a lease that is free, expired, the caller's or
// superseded ($4), keeping the token only when the caller renews its own
// live lease.
const sqlAcquire = `INSERT INTO leases (name, holder, token, expires_ms) VALUES ($1, $2, 1, %[1]s + $3)
	ON CONFLICT (name) DO UPDATE SET
		token = CASE WHEN leases.holder = excluded.holder AND leases.expires_ms > %[1]s
			THEN leases.token ELSE leases.token + 1 END,
		holder = excluded.holder, expires_ms = excluded.expires_ms
	WHERE leases.holder = excluded.holder OR leases.expires_ms <= %[1]s OR ($4 <> 0 AND leases.token = $4)
	RETURNING holder, token, expires_ms, expires_ms > %[1]s`

const sqlRenewLease = `UPDATE leases SET expires_ms = %[1]s + $4
	WHERE name = $1 AND holder = $2 AND token = $3
	RETURNING holder, token, expires_ms, expires_ms > %[1]s`

// sqlRenewHolder renews every lease of a holder (released ones have none).
const sqlRenewHolder = `UPDATE leases SET expires_ms = %[1]s + $2
	WHERE holder = $1
	RETURNING name, token, expires_ms, expires_ms > %[1]s`

// sqlPurgeLeases deletes leases of a prefix ended before a moment.
const sqlPurgeLeases = `DELETE FROM leases
	WHERE substr(name, 1, length(CAST($1 AS TEXT))) = CAST($1 AS TEXT) AND expires_ms < %[1]s - $2`

// sqlReleaseLease ends a lease now and clears its holder (nobody renews
// it); the token stays, so the next holder gets a greater one.
const sqlReleaseLease = `UPDATE leases SET expires_ms = %[1]s, holder = '' WHERE name = $1 AND holder = $2 AND token = $3`

const sqlGetLease = `SELECT holder, token, expires_ms, expires_ms > %[1]s FROM leases WHERE name = $1`

func (l *leases) Acquire(ctx context.Context, r lease.Request) (lease.Lease, error) {
	if err := l.open(); err != nil {
		return lease.Lease{}, err
	}
	if err := r.Validate(); err != nil {
		return lease.Lease{}, err
	}
	row := l.db.QueryRowContext(ctx, l.q(sqlAcquire), r.Name, r.Holder, r.TTL.Milliseconds(), r.Supersede)
	got, err := scanLease(r.Name, row)
	if errors.Is(err, sql.ErrNoRows) {
		cur, gerr := l.Get(ctx, r.Name)
		if gerr != nil {
			return lease.Lease{}, fmt.Errorf("acquiring lease %s: %w", r.Name, gerr)
		}
		return lease.Lease{}, &lease.HeldError{Current: cur}
	}
	if err != nil {
		return lease.Lease{}, fmt.Errorf("acquiring lease %s: %w", r.Name, err)
	}
	return got, nil
}

func (l *leases) Renew(ctx context.Context, cur lease.Lease, ttl time.Duration) (lease.Lease, error) {
	if err := l.open(); err != nil {
		return lease.Lease{}, err
	}
	row := l.db.QueryRowContext(ctx, l.q(sqlRenewLease), cur.Name, cur.Holder, cur.Token, ttl.Milliseconds())
	got, err := scanLease(cur.Name, row)
	if errors.Is(err, sql.ErrNoRows) {
		return lease.Lease{}, fmt.Errorf("renewing lease %s for %s: %w", cur.Name, cur.Holder, lease.ErrLost)
	}
	if err != nil {
		return lease.Lease{}, fmt.Errorf("renewing lease %s: %w", cur.Name, err)
	}
	return got, nil
}

// RenewHolder extends every unreleased lease of holder in one statement.
func (l *leases) RenewHolder(ctx context.Context, holder string, ttl time.Duration) ([]lease.Lease, error) {
	if err := l.open(); err != nil {
		return nil, err
	}
	rows, err := l.db.QueryContext(ctx, l.q(sqlRenewHolder), holder, ttl.Milliseconds())
	if err != nil {
		return nil, fmt.Errorf("renewing the leases of %s: %w", holder, err)
	}
	defer rows.Close()
	var out []lease.Lease
	for rows.Next() {
		got := lease.Lease{Holder: holder}
		var ms int64
		if err := rows.Scan(&got.Name, &got.Token, &ms, &got.Alive); err != nil {
			return nil, fmt.Errorf("renewing the leases of %s: %w", holder, err)
		}
		got.Expires = time.UnixMilli(ms)
		out = append(out, got)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("renewing the leases of %s: %w", holder, err)
	}
	return out, nil
}

// Purge deletes the leases named with prefix that ended more than age ago.
func (l *leases) Purge(ctx context.Context, prefix string, age time.Duration) (int64, error) {
	if err := l.open(); err != nil {
		return 0, err
	}
	res, err := l.db.ExecContext(ctx, l.q(sqlPurgeLeases), prefix, age.Milliseconds())
	if err != nil {
		return 0, fmt.Errorf("purging leases %s*: %w", prefix, err)
	}
	return res.RowsAffected()
}

func (l *leases) Release(ctx context.Context, cur lease.Lease) error {
	if err := l.open(); err != nil {
		return err
	}
	if _, err := l.db.ExecContext(ctx, l.q(sqlReleaseLease), cur.Name, cur.Holder, cur.Token); err != nil {
		return fmt.Errorf("releasing lease %s: %w", cur.Name, err)
	}
	return nil
}

func (l *leases) Get(ctx context.Context, name string) (lease.Lease, error) {
	if err := l.open(); err != nil {
		return lease.Lease{}, err
	}
	got, err := scanLease(name, l.db.QueryRowContext(ctx, l.q(sqlGetLease), name))
	if errors.Is(err, sql.ErrNoRows) {
		return lease.Lease{}, fmt.Errorf("lease %s: %w", name, lease.ErrNotFound)
	}
	if err != nil {
		return lease.Lease{}, fmt.Errorf("reading lease %s: %w", name, err)
	}
	return got, nil
}

func (l *leases) open() error { return l.s.checkOpen() }

func scanLease(name string, row *sql.Row) (lease.Lease, error) {
	out := lease.Lease{Name: name}
	var ms int64
	if err := row.Scan(&out.Holder, &out.Token, &ms, &out.Alive); err != nil {
		return lease.Lease{}, err
	}
	out.Expires = time.UnixMilli(ms)
	return out, nil
}
