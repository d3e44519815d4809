// Package sqlstore implements store.Store over database/sql for SQLite
// (modernc.org/sqlite) and PostgreSQL (pgx), sharing one implementation and
// a small dialect table.
//
// Writes go through a group-commit writer goroutine: concurrent requests are
// applied in one transaction that first reads, and on PostgreSQL row-locks,
// the resource-version counter; a failing request leaves no trace (SQLite
// runs a multi-op request in a savepoint, PostgreSQL decides every op before
// writing and sends the group in two round trips, see pgwrite.go). Writers, including other processes on the same PostgreSQL
// database, are therefore serialised by that lock and commit in
// resource-version order, so the event log never shows a later version before
// an earlier one. A watch hub tails the log and fans events out to watchers.
//
// Options: zero fields take the defaults below; a negative MinEvents or
// EventRetention means none (compaction then only honours the other one).
// The context given to the constructors bounds opening and migrating only;
// the Store runs until Close. Objects returned by the Store and delivered to
// watchers are deep copies the caller may modify.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"

	"github.com/kilnbuild/kiln/internal/store"
)

// ErrClosed is returned by every method of a closed Store and ends its
// watchers.
var ErrClosed = errors.New("store closed")

// Store is the SQL implementation of store.Store.
type Store struct {
	d    *dialect
	opts store.Options
	// wdb is the writer pool (one connection); rdb serves reads; cdb runs
	// compaction (the writer pool on SQLite, rdb on PostgreSQL).
	wdb, rdb, cdb *sql.DB
	stmts         *stmtCache // prepared on wdb
	reads         *stmtCache // prepared on rdb
	writes        chan *writeReq
	writerDone    chan struct{}
	hub           *hub
	watchQueue    int

	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

var _ store.Store = (*Store)(nil)

// Create stores a new object; store.ErrAlreadyExists if the key is taken.
func (s *Store) Create(ctx context.Context, obj *store.Object) (*store.Object, error) {
	return s.writeOne(ctx, store.Op{Type: store.OpCreate, Object: obj})
}

// Update replaces an existing object; store.ErrNotFound, store.ErrConflict.
func (s *Store) Update(ctx context.Context, obj *store.Object) (*store.Object, error) {
	return s.writeOne(ctx, store.Op{Type: store.OpUpdate, Object: obj})
}

// Delete removes an object and returns its last state, carrying the
// resource version of the deletion.
func (s *Store) Delete(ctx context.Context, key store.Key, precondition int64) (*store.Object, error) {
	obj := &store.Object{Kind: key.Kind, Namespace: key.Namespace, Name: key.Name,
		ResourceVersion: precondition}
	return s.writeOne(ctx, store.Op{Type: store.OpDelete, Object: obj})
}

func (s *Store) writeOne(ctx context.Context, op store.Op) (*store.Object, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	if err := validateOp(op); err != nil {
		return nil, err
	}
	objs, err := s.write(ctx, []store.Op{op})
	var oe *store.OpError
	if errors.As(err, &oe) {
		return nil, oe.Err
	}
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", op.Type, op.Object.Key(), err)
	}
	return objs[0], nil
}

// Batch applies ops atomically and in order.
func (s *Store) Batch(ctx context.Context, ops []store.Op) ([]*store.Object, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	for i, op := range ops {
		if err := validateOp(op); err != nil {
			return nil, newOpError(i, op, err)
		}
	}
	if len(ops) == 0 {
		return []*store.Object{}, nil
	}
	objs, err := s.write(ctx, ops)
	if err != nil && !isOpFailure(err) {
		return nil, fmt.Errorf("batch of %d ops: %w", len(ops), err)
	}
	return objs, err
}

func (s *Store) checkOpen() error {
	if s.ctx.Err() != nil {
		return ErrClosed
	}
	return nil
}

// Close stops the writer, the watch hub (ending watchers with ErrClosed),
// background compaction and the PostgreSQL listener, then closes the pools.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.cancel()
		<-s.writerDone
		s.wg.Wait()
		errs := []error{s.stmts.close(), s.reads.close(), s.wdb.Close()}
		if s.rdb != s.wdb {
			errs = append(errs, s.rdb.Close())
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}
