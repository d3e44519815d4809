package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/kilnbuild/kiln/internal/store"
)

// txn is one write transaction of the group-commit writer. It assigns
// resource versions in memory from the locked counter row; rv is the last
// assigned version.
type txn struct {
	ctx context.Context
	s   *Store
	tx  *sql.Tx
	rv  int64
	ts  int64
}

func (t *txn) exec(query string, args ...any) (sql.Result, error) {
	if st := t.s.stmts.m[query]; st != nil {
		return t.tx.StmtContext(t.ctx, st).ExecContext(t.ctx, args...)
	}
	return t.tx.ExecContext(t.ctx, query, args...)
}

func (t *txn) queryRow(query string, args ...any) *sql.Row {
	if st := t.s.stmts.m[query]; st != nil {
		return t.tx.StmtContext(t.ctx, st).QueryRowContext(t.ctx, args...)
	}
	return t.tx.QueryRowContext(t.ctx, query, args...)
}

// lockRV reads (and on PostgreSQL locks) the resource-version counter.
func (t *txn) lockRV() error {
	if err := t.queryRow(t.s.d.lockRV).Scan(&t.rv); err != nil {
		return fmt.Errorf("locking resource version counter: %w", err)
	}
	return nil
}

// finish stores the new counter value and, on PostgreSQL, queues the commit
// notification (delivered by the server when the transaction commits).
func (t *txn) finish() error {
	if _, err := t.exec(t.s.d.finish, t.rv); err != nil {
		return fmt.Errorf("storing resource version %d: %w", t.rv, err)
	}
	return nil
}

// unit applies the ops of one request. Multi-op requests run inside a
// savepoint so that a failing op undoes the earlier ones without touching the
// other requests of the group. Single ops detect their failures before
// writing anything, so they need no savepoint.
func (t *txn) unit(ops []store.Op) ([]*store.Object, []*store.Event, error) {
	multi := len(ops) > 1
	if multi {
		if _, err := t.exec(sqlSavepoint); err != nil {
			return nil, nil, fmt.Errorf("creating savepoint: %w", err)
		}
	}
	saved := t.rv
	objs, evs, err := t.applyAll(ops)
	if err != nil && !isOpFailure(err) {
		return nil, nil, err
	}
	if err != nil {
		t.rv = saved
		if multi {
			if _, rerr := t.exec(sqlRollbackSavepoint); rerr != nil {
				return nil, nil, fmt.Errorf("rolling back to savepoint: %w", rerr)
			}
		}
	}
	if multi {
		if _, rerr := t.exec(sqlReleaseSavepoint); rerr != nil {
			return nil, nil, fmt.Errorf("releasing savepoint: %w", rerr)
		}
	}
	return objs, evs, err
}

// applyAll applies ops in order. An op that fails for a reason the caller
// must handle (not found, conflict...) is reported as *store.OpError; any
// other error is a database failure that aborts the whole group.
func (t *txn) applyAll(ops []store.Op) ([]*store.Object, []*store.Event, error) {
	objs := make([]*store.Object, 0, len(ops))
	evs := make([]*store.Event, 0, len(ops))
	for i, op := range ops {
		o, ev, err := t.applyOp(op)
		if err != nil && isSentinel(err) {
			return nil, nil, newOpError(i, op, err)
		}
		if err != nil {
			return nil, nil, err
		}
		objs = append(objs, o)
		evs = append(evs, ev)
	}
	return objs, evs, nil
}

func (t *txn) applyOp(op store.Op) (*store.Object, *store.Event, error) {
	if err := validateOp(op); err != nil {
		return nil, nil, err
	}
	switch op.Type {
	case store.OpCreate:
		return t.create(op.Object)
	case store.OpUpdate:
		return t.update(op.Object)
	default:
		return t.delete(op.Object.Key(), op.Object.ResourceVersion)
	}
}

func (t *txn) create(in *store.Object) (*store.Object, *store.Event, error) {
	o := cloneObject(in)
	if o.UID == "" {
		o.UID = newUID()
	}
	o.ResourceVersion = t.rv + 1
	m, err := encodeMeta(o)
	if err != nil {
		return nil, nil, err
	}
	created, err := t.insert(o, m)
	if err != nil {
		return nil, nil, fmt.Errorf("creating %s: %w", o.Key(), err)
	}
	if !created {
		return nil, nil, fmt.Errorf("creating %s: %w", o.Key(), store.ErrAlreadyExists)
	}
	return t.done(store.Added, o)
}

// insert writes a new object, its index rows and its event; false if the
// key is taken (then nothing is written).
func (t *txn) insert(o *store.Object, m string) (bool, error) {
	entries := indexEntries(o.Labels, o.Fields, o.OwnerUIDs)
	res, err := t.exec(sqlInsertObject, o.Kind, o.Namespace, o.Name, o.UID, o.ResourceVersion, m, dataOf(o))
	if err != nil {
		return false, err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return false, err
	}
	if err := t.index(t.s.d.insertIndex, o.Key(), entries); err != nil {
		return false, err
	}
	return true, t.logEvent(store.Added, o, m)
}

func (t *txn) update(in *store.Object) (*store.Object, *store.Event, error) {
	k := in.Key()
	var uid, oldMeta string
	var rv int64
	err := t.queryRow(sqlSelectForUpdate, k.Kind, k.Namespace, k.Name).Scan(&uid, &rv, &oldMeta)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, fmt.Errorf("updating %s: %w", k, store.ErrNotFound)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("updating %s: reading current version: %w", k, err)
	}
	if (in.ResourceVersion != 0 && in.ResourceVersion != rv) || (in.UID != "" && in.UID != uid) {
		return nil, nil, fmt.Errorf("updating %s (stored version %d, uid %s): %w", k, rv, uid, store.ErrConflict)
	}
	o := cloneObject(in)
	o.UID, o.ResourceVersion = uid, t.rv+1
	m, err := encodeMeta(o)
	if err != nil {
		return nil, nil, err
	}
	if err := t.replace(oldMeta, o, m); err != nil {
		return nil, nil, fmt.Errorf("updating %s: %w", k, err)
	}
	return t.done(store.Modified, o)
}

// replace writes the new state of an existing object, changing only the
// index rows whose (key, value) changed, and its event.
func (t *txn) replace(oldMeta string, o *store.Object, m string) error {
	old := &store.Object{Kind: o.Kind, Namespace: o.Namespace, Name: o.Name}
	if err := decodeMeta(oldMeta, old); err != nil {
		return err
	}
	removed, added := diffEntries(indexEntries(old.Labels, old.Fields, old.OwnerUIDs),
		indexEntries(o.Labels, o.Fields, o.OwnerUIDs))
	if _, err := t.exec(sqlUpdateObject, o.Kind, o.Namespace, o.Name, o.ResourceVersion, m, dataOf(o)); err != nil {
		return err
	}
	if err := t.index(t.s.d.deleteIndex, o.Key(), removed); err != nil {
		return err
	}
	if err := t.index(t.s.d.insertIndex, o.Key(), added); err != nil {
		return err
	}
	return t.logEvent(store.Modified, o, m)
}

func (t *txn) delete(k store.Key, precondition int64) (*store.Object, *store.Event, error) {
	o := &store.Object{Kind: k.Kind, Namespace: k.Namespace, Name: k.Name}
	var m string
	err := t.queryRow(sqlDeleteObject, k.Kind, k.Namespace, k.Name, precondition).
		Scan(&o.UID, &o.ResourceVersion, &m, &o.Data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, t.deleteFailure(k, precondition)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("deleting %s: %w", k, err)
	}
	if err := decodeMeta(m, o); err != nil {
		return nil, nil, err
	}
	if err := t.index(t.s.d.deleteIndex, k, indexEntries(o.Labels, o.Fields, o.OwnerUIDs)); err != nil {
		return nil, nil, err
	}
	o.ResourceVersion = t.rv + 1
	if err := t.logEvent(store.Deleted, o, m); err != nil {
		return nil, nil, err
	}
	return t.done(store.Deleted, o)
}

// deleteFailure explains why a conditional DELETE removed nothing.
func (t *txn) deleteFailure(k store.Key, precondition int64) error {
	var rv int64
	err := t.queryRow(sqlSelectRV, k.Kind, k.Namespace, k.Name).Scan(&rv)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("deleting %s: %w", k, store.ErrNotFound)
	case err != nil:
		return fmt.Errorf("deleting %s: reading current version: %w", k, err)
	default:
		return fmt.Errorf("deleting %s (stored version %d, precondition %d): %w",
			k, rv, precondition, store.ErrConflict)
	}
}

// index runs an index statement for entries; nothing to do when empty.
func (t *txn) index(query string, k store.Key, entries []entry) error {
	if len(entries) == 0 {
		return nil
	}
	if _, err := t.exec(query, k.Kind, k.Namespace, k.Name, entriesJSON(entries)); err != nil {
		return fmt.Errorf("indexing %s: %w", k, err)
	}
	return nil
}

// logEvent appends the event of an op to the log.
func (t *txn) logEvent(typ store.EventType, o *store.Object, m string) error {
	_, err := t.exec(sqlInsertEvent, o.ResourceVersion, t.ts, string(typ),
		o.Kind, o.Namespace, o.Name, o.UID, m, dataOf(o))
	if err != nil {
		return fmt.Errorf("recording event for %s: %w", o.Key(), err)
	}
	return nil
}

// done consumes the version of a successful op and builds its event.
func (t *txn) done(typ store.EventType, o *store.Object) (*store.Object, *store.Event, error) {
	t.rv = o.ResourceVersion
	return o, &store.Event{Type: typ, Object: cloneObject(o)}, nil
}

func dataOf(o *store.Object) []byte {
	if o.Data == nil {
		return []byte{}
	}
	return o.Data
}

func validateOp(op store.Op) error {
	switch op.Type {
	case store.OpCreate, store.OpUpdate:
		return validateObject(op.Object)
	case store.OpDelete:
		if op.Object == nil {
			return fmt.Errorf("%w: nil object", store.ErrInvalid)
		}
		return validateKey(op.Object.Key())
	}
	return fmt.Errorf("%w: unknown op type %q", store.ErrInvalid, op.Type)
}

// isSentinel reports errors that belong to one op rather than to the database.
func isSentinel(err error) bool {
	return errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrAlreadyExists) ||
		errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrInvalid)
}

// newOpError builds a *store.OpError whose Error method is safe to call
// even when the op carried no object.
func newOpError(i int, op store.Op, err error) *store.OpError {
	if op.Object == nil {
		op.Object = &store.Object{}
	}
	return &store.OpError{Index: i, Op: op, Err: err}
}

func isOpFailure(err error) bool {
	var oe *store.OpError
	return errors.As(err, &oe)
}
