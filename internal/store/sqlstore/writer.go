package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/kilnbuild/kiln/internal/store"
)

// Group commit: every write request goes to one writer goroutine, which
// applies all requests waiting at that moment in a single transaction
// (on SQLite each in its own savepoint when it has several ops; PostgreSQL
// needs none, see pgwrite.go), then commits once.
// Under load this turns N commits into one without adding latency when idle.
const (
	// maxGroupOps bounds the ops of one group transaction.
	maxGroupOps = 1000
	// writeQueue is how many requests may wait for the writer.
	writeQueue = 4096
)

// writeReq is one Create/Update/Delete/Batch call waiting for the writer.
type writeReq struct {
	ctx  context.Context
	ops  []store.Op
	done chan writeResult // buffered: the writer never blocks on it
}

type writeResult struct {
	objs []*store.Object
	err  error
}

// write submits ops as one atomic unit and waits for its outcome. If ctx ends
// after the request reached the writer the ops may still be committed.
func (s *Store) write(ctx context.Context, ops []store.Op) ([]*store.Object, error) {
	req := &writeReq{ctx: ctx, ops: ops, done: make(chan writeResult, 1)}
	select {
	case s.writes <- req:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-s.writerDone:
		return nil, ErrClosed
	}
	select {
	case r := <-req.done:
		return r.objs, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-s.writerDone:
		select {
		case r := <-req.done:
			return r.objs, r.err
		default:
			return nil, ErrClosed
		}
	}
}

// runWriter is the group-commit loop; it ends when the store closes.
func (s *Store) runWriter() {
	defer close(s.writerDone)
	for {
		select {
		case <-s.ctx.Done():
			return
		case r := <-s.writes:
			s.commitGroup(s.collectGroup(r))
		}
	}
}

// collectGroup takes the requests already queued behind first, up to
// maxGroupOps ops, without waiting for more.
func (s *Store) collectGroup(first *writeReq) []*writeReq {
	group := []*writeReq{first}
	n := len(first.ops)
	for n < maxGroupOps {
		select {
		case r := <-s.writes:
			group = append(group, r)
			n += len(r.ops)
		default:
			return group
		}
	}
	return group
}

// commitGroup runs a group and answers its requests. When the transaction
// fails for a database reason, the requests are retried one by one so that
// only the request at fault sees the error.
func (s *Store) commitGroup(group []*writeReq) {
	live := make([]*writeReq, 0, len(group))
	for _, r := range group {
		if err := r.ctx.Err(); err != nil {
			r.done <- writeResult{err: err}
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	results, events, err := s.runGroup(live)
	if err != nil && len(live) > 1 && s.ctx.Err() == nil {
		for _, r := range live {
			s.commitGroup([]*writeReq{r})
		}
		return
	}
	if err != nil {
		for _, r := range live {
			r.done <- writeResult{err: err}
		}
		return
	}
	s.hub.publish(events)
	for i, r := range live {
		r.done <- results[i]
	}
}

// runGroup applies the requests in one transaction and commits it.
func (s *Store) runGroup(reqs []*writeReq) ([]writeResult, []*store.Event, error) {
	run := s.runGroupTx
	if s.d.pipelined {
		run = s.runGroupPG
	}
	results, events, err := run(reqs)
	if err != nil {
		return nil, nil, s.closedOr(err)
	}
	return results, events, nil
}

// runGroupTx runs the group statement by statement through database/sql.
func (s *Store) runGroupTx(reqs []*writeReq) ([]writeResult, []*store.Event, error) {
	tx, err := s.wdb.BeginTx(s.ctx, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("beginning write transaction: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	t := &txn{ctx: s.ctx, s: s, tx: tx, ts: time.Now().UnixMilli()}
	if err := t.lockRV(); err != nil {
		return nil, nil, err
	}
	results, events, err := applyGroup(reqs, t.unit)
	if err != nil {
		return nil, nil, err
	}
	if len(events) > 0 {
		if err := t.finish(); err != nil {
			return nil, nil, err
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, nil, fmt.Errorf("committing writes: %w", err)
	}
	return results, events, nil
}

// applyGroup applies each request with unit, which reports the failure of
// one request as *store.OpError and a failure of the group as another error.
func applyGroup(reqs []*writeReq, unit func([]store.Op) ([]*store.Object, []*store.Event, error)) (
	[]writeResult, []*store.Event, error) {
	results := make([]writeResult, len(reqs))
	var events []*store.Event
	for i, r := range reqs {
		objs, evs, err := unit(r.ops)
		if err != nil && !isOpFailure(err) {
			return nil, nil, err
		}
		results[i] = writeResult{objs: objs, err: err}
		events = append(events, evs...)
	}
	return results, events, nil
}

// closedOr reports ErrClosed for failures caused by Close.
func (s *Store) closedOr(err error) error {
	if s.ctx.Err() != nil {
		return fmt.Errorf("%w: %w", ErrClosed, err)
	}
	return err
}

// stmtCache holds the writer's statements, prepared once when the store
// opens (preparing later could wait for the writer pool's only connection
// while a transaction holds it). Tx.StmtContext re-prepares transparently if
// the pool ever replaces the connection.
type stmtCache struct {
	m map[string]*sql.Stmt
}

func prepareAll(ctx context.Context, db *sql.DB, queries []string) (*stmtCache, error) {
	c := &stmtCache{m: make(map[string]*sql.Stmt, len(queries))}
	for _, q := range queries {
		if q == "" || c.m[q] != nil {
			continue
		}
		st, err := db.PrepareContext(ctx, q)
		if err != nil {
			_ = c.close()
			return nil, fmt.Errorf("preparing statement %q: %w", q, err)
		}
		c.m[q] = st
	}
	return c, nil
}

func (c *stmtCache) close() error {
	var errs []error
	for _, st := range c.m {
		errs = append(errs, st.Close())
	}
	return errors.Join(errs...)
}

// writerQueries are the statements prepared on the writer pool; the
// pipelined writer lets pgx prepare and cache its own.
func writerQueries(d *dialect) []string {
	if d.pipelined {
		return nil
	}
	return []string{d.lockRV, d.insertIndex, d.deleteIndex, d.finish, sqlInsertObject, sqlSelectForUpdate, sqlUpdateObject,
		sqlDeleteObject, sqlSelectRV, sqlInsertEvent,
		sqlSavepoint, sqlRollbackSavepoint, sqlReleaseSavepoint}
}
