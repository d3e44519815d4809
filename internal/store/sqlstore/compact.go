package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// compactChunk bounds the events deleted per transaction, so compaction never
// holds the SQLite writer for long.
const compactChunk = 5000

// Compact deletes the events that are both older than Options.EventRetention
// and not among the Options.MinEvents most recent, then raises the
// compaction mark: watches from before it fail with store.ErrExpired. It runs
// periodically in the background; tests may call it directly.
func (s *Store) Compact(ctx context.Context) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	cutoff, err := s.compactionCutoff(ctx)
	if err != nil {
		return fmt.Errorf("compacting events: %w", err)
	}
	var mark int64
	if err := s.rdb.QueryRowContext(ctx, sqlGetCompacted).Scan(&mark); err != nil {
		return fmt.Errorf("compacting events: reading compaction mark: %w", err)
	}
	for mark < cutoff {
		next := min(mark+compactChunk, cutoff)
		if err := s.compactTo(ctx, next); err != nil {
			return fmt.Errorf("compacting events up to %d: %w", next, err)
		}
		mark = next
	}
	return nil
}

// compactionCutoff is the highest version whose events may be deleted.
func (s *Store) compactionCutoff(ctx context.Context) (int64, error) {
	cur, err := readRV(ctx, s.rdb)
	if err != nil {
		return 0, err
	}
	cutoff := cur - int64(s.opts.MinEvents)
	since := time.Now().Add(-s.opts.EventRetention).UnixMilli()
	var firstRecent int64
	err = s.rdb.QueryRowContext(ctx, sqlFirstRecentEvent, since).Scan(&firstRecent)
	switch {
	case errors.Is(err, sql.ErrNoRows): // every event is older than retention
	case err != nil:
		return 0, fmt.Errorf("finding events within retention: %w", err)
	default:
		cutoff = min(cutoff, firstRecent-1)
	}
	return cutoff, nil
}

// compactTo raises the mark and deletes the events up to rv in one
// transaction, so readers see either both or neither.
func (s *Store) compactTo(ctx context.Context, rv int64) error {
	tx, err := s.cdb.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, sqlSetCompacted, rv); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, sqlDeleteEvents, rv); err != nil {
		return err
	}
	return tx.Commit()
}

// runCompactor compacts every interval until the store closes.
func (s *Store) runCompactor(interval time.Duration) {
	defer s.wg.Done()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-tick.C:
			if err := s.Compact(s.ctx); err != nil && s.ctx.Err() == nil {
				slog.Warn("store: background compaction failed", "err", err)
			}
		}
	}
}

// compactInterval derives the background compaction period from retention.
func compactInterval(retention time.Duration) time.Duration {
	return min(max(retention/4, time.Second), time.Minute)
}
