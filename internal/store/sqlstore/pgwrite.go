package sqlstore

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/kilnbuild/kiln/internal/store"
)

// The PostgreSQL writer sends each group as two pipelined batches, so a group
// costs two round trips plus the commit's WAL flush whatever its size:
//
//  1. BEGIN, lock the resource-version counter, read the stored rows of every
//     key the group touches;
//  2. one statement per op that succeeds, the counter update with its NOTIFY,
//     COMMIT.
//
// Between the two, the writer decides every op in Go against the rows read
// and the effects of the group's earlier ops, so a request whose op fails
// queues nothing and needs no savepoint. The counter lock serialises every
// writer of the database (all processes), so the rows cannot change between
// the batches; still, each statement re-checks the version it expects and
// fails otherwise, which aborts the group (commitGroup then retries its
// requests one by one) instead of writing an inconsistent state.
const (
	// pgReadRows returns the rows of the keys ($1-$3), with data where $4.
	// The LIMIT keeps the planner from flattening the subquery, so every key
	// is a primary-key lookup even while the table's statistics say it is
	// empty (a hash join would scan the whole table per group).
	pgReadRows = `SELECT k.kind, k.namespace, k.name, o.uid, o.rv, o.meta, o.data
		FROM unnest($1::text[], $2::text[], $3::text[], $4::bool[]) AS k(kind, namespace, name, data)
		CROSS JOIN LATERAL (SELECT uid, rv, meta, CASE WHEN k.data THEN data END AS data
			FROM objects WHERE kind = k.kind AND namespace = k.namespace AND name = k.name
			LIMIT 1) AS o`

	// pgCreate inserts the object ($1-$7), its index entries ($8) and its
	// event (time $9); a taken key fails the statement.
	pgCreate = `WITH obj AS (
		INSERT INTO objects (kind, namespace, name, uid, rv, meta, data)
		VALUES ($1::text, $2::text, $3::text, $4::text, $5::bigint, $6::text, $7::bytea)),
	idx AS (
		INSERT INTO object_index (kind, key, value, namespace, name)
		SELECT $1, e->>0, e->>1, $2, $3 FROM jsonb_array_elements($8::jsonb) AS e)
	INSERT INTO events (rv, ts, type, kind, namespace, name, uid, meta, data)
	VALUES ($5, $9::bigint, 'ADDED', $1, $2, $3, $4, $6, $7)`

	// pgUpdate replaces the object ($1-$3 key, $4 rv, $5 meta, $6 data) if
	// it is still at version $9 and records the event (time $7, uid $8).
	// When the object is not at $9 the event's version is NULL, which fails
	// the statement. pgUpdateIndexed also removes ($10) and adds ($11) index
	// entries.
	pgUpdate        = `WITH ` + pgUpdateObject + ` ` + pgUpdateEvent
	pgUpdateIndexed = `WITH ` + pgUpdateObject + `,
	removed AS (
		DELETE FROM object_index i USING jsonb_array_elements($10::jsonb) AS e
		WHERE i.kind = $1 AND i.key = e->>0 AND i.value = e->>1
		AND i.namespace = $2 AND i.name = $3),
	added AS (
		INSERT INTO object_index (kind, key, value, namespace, name)
		SELECT $1, e->>0, e->>1, $2, $3 FROM jsonb_array_elements($11::jsonb) AS e)
	` + pgUpdateEvent
	pgUpdateObject = `obj AS (
		UPDATE objects SET rv = $4::bigint, meta = $5::text, data = $6::bytea
		WHERE kind = $1::text AND namespace = $2::text AND name = $3::text AND rv = $9::bigint
		RETURNING 1)`
	pgUpdateEvent = `INSERT INTO events (rv, ts, type, kind, namespace, name, uid, meta, data)
	VALUES ((SELECT $4 FROM obj), $7::bigint, 'MODIFIED', $1, $2, $3, $8::text, $5, $6)`

	// pgDelete deletes the object ($1-$3) if it is still at version $4 and
	// its index entries ($5), and records the event ($6 rv, $7 time, $8
	// uid, $9 meta, $10 data); like pgUpdate it fails if the version moved.
	pgDelete = `WITH obj AS (
		DELETE FROM objects
		WHERE kind = $1::text AND namespace = $2::text AND name = $3::text AND rv = $4::bigint
		RETURNING 1),
	removed AS (
		DELETE FROM object_index i USING jsonb_array_elements($5::jsonb) AS e
		WHERE i.kind = $1 AND i.key = e->>0 AND i.value = e->>1
		AND i.namespace = $2 AND i.name = $3)
	INSERT INTO events (rv, ts, type, kind, namespace, name, uid, meta, data)
	VALUES ((SELECT $6::bigint FROM obj), $7::bigint, 'DELETED', $1, $2, $3, $8::text, $9::text, $10::bytea)`
)

// pgRow is a stored object as the group sees it: as read, or as written by an
// earlier op of the group. data is only known when read for a delete or
// written by the group.
type pgRow struct {
	uid  string
	rv   int64
	meta string
	data []byte
}

// pgWriter is one group transaction on the writer connection. rv is the last
// assigned resource version.
type pgWriter struct {
	ctx  context.Context
	d    *dialect
	hub  *hub
	conn *pgx.Conn
	ts   int64
	rv   int64
	// rows holds the rows of the touched keys after the requests decided so
	// far; a nil row means no object.
	rows map[store.Key]*pgRow
	// pending and queue are the row changes and statements of the request
	// being decided; they join rows and batch if all its ops succeed.
	pending map[store.Key]*pgRow
	queue   []*pgx.QueuedQuery
	batch   pgx.Batch
}

// runGroupPG applies and commits a group on PostgreSQL.
func (s *Store) runGroupPG(reqs []*writeReq) ([]writeResult, []*store.Event, error) {
	conn, err := s.wdb.Conn(s.ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("getting the writer connection: %w", err)
	}
	defer func() { _ = conn.Close() }()
	var results []writeResult
	var events []*store.Event
	err = conn.Raw(func(dc any) error {
		w := &pgWriter{ctx: s.ctx, d: s.d, hub: s.hub, conn: dc.(*stdlib.Conn).Conn(), ts: time.Now().UnixMilli()}
		var err error
		results, events, err = w.run(reqs)
		return err
	})
	return results, events, err
}

func (w *pgWriter) run(reqs []*writeReq) ([]writeResult, []*store.Event, error) {
	err := w.begin(reqs)
	var results []writeResult
	var events []*store.Event
	if err == nil {
		results, events, err = applyGroup(reqs, w.request)
	}
	if err == nil {
		err = w.commit(len(events) > 0)
	}
	if err != nil {
		w.abort()
		return nil, nil, err
	}
	return results, events, nil
}

// begin sends the first batch: it opens the transaction, locks the counter
// and reads the rows of every key the requests touch.
func (w *pgWriter) begin(reqs []*writeReq) error {
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	b.Queue(w.d.lockRV)
	b.Queue(pgReadRows, touchedKeys(reqs)...)
	br := w.conn.SendBatch(w.ctx, b)
	err := w.readBegin(br)
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return err
}

func (w *pgWriter) readBegin(br pgx.BatchResults) error {
	if _, err := br.Exec(); err != nil {
		return fmt.Errorf("beginning write transaction: %w", err)
	}
	if err := br.QueryRow().Scan(&w.rv); err != nil {
		return fmt.Errorf("locking resource version counter: %w", err)
	}
	rows, err := br.Query()
	if err != nil {
		return fmt.Errorf("reading current versions: %w", err)
	}
	defer rows.Close()
	w.rows = make(map[store.Key]*pgRow)
	for rows.Next() {
		var k store.Key
		r := &pgRow{}
		if err := rows.Scan(&k.Kind, &k.Namespace, &k.Name, &r.uid, &r.rv, &r.meta, &r.data); err != nil {
			return fmt.Errorf("reading current versions: %w", err)
		}
		w.rows[k] = r
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading current versions: %w", err)
	}
	return nil
}

// touchedKeys returns the arguments of pgReadRows: the distinct valid keys
// of the requests' ops, with data for the keys some op deletes.
func touchedKeys(reqs []*writeReq) []any {
	var kinds, namespaces, names []string
	var data []bool
	seen := make(map[store.Key]int)
	for _, r := range reqs {
		for _, op := range r.ops {
			if op.Object == nil || validateKey(op.Object.Key()) != nil {
				continue // the op fails validation before reading anything
			}
			k := op.Object.Key()
			i, ok := seen[k]
			if !ok {
				i = len(kinds)
				seen[k] = i
				kinds, namespaces, names = append(kinds, k.Kind), append(namespaces, k.Namespace), append(names, k.Name)
				data = append(data, false)
			}
			data[i] = data[i] || op.Type == store.OpDelete
		}
	}
	return []any{kinds, namespaces, names, data}
}

// request decides the ops of one request; their changes take effect only if
// they all succeed. An op failure is returned as *store.OpError.
func (w *pgWriter) request(ops []store.Op) ([]*store.Object, []*store.Event, error) {
	w.pending, w.queue = make(map[store.Key]*pgRow, len(ops)), w.queue[:0]
	saved := w.rv
	objs := make([]*store.Object, 0, len(ops))
	evs := make([]*store.Event, 0, len(ops))
	for i, op := range ops {
		o, ev, err := w.apply(op)
		if err != nil {
			w.rv = saved
			if isSentinel(err) {
				err = newOpError(i, op, err)
			}
			return nil, nil, err
		}
		objs, evs = append(objs, o), append(evs, ev)
	}
	maps.Copy(w.rows, w.pending)
	w.batch.QueuedQueries = append(w.batch.QueuedQueries, w.queue...)
	return objs, evs, nil
}

func (w *pgWriter) apply(op store.Op) (*store.Object, *store.Event, error) {
	if err := validateOp(op); err != nil {
		return nil, nil, err
	}
	switch op.Type {
	case store.OpCreate:
		return w.create(op.Object)
	case store.OpUpdate:
		return w.update(op.Object)
	default:
		return w.delete(op.Object.Key(), op.Object.ResourceVersion)
	}
}

// lookup returns the row of k as the op being decided sees it, nil if none.
func (w *pgWriter) lookup(k store.Key) *pgRow {
	if r, ok := w.pending[k]; ok {
		return r
	}
	return w.rows[k]
}

func (w *pgWriter) queueOp(sql string, args ...any) {
	w.queue = append(w.queue, &pgx.QueuedQuery{SQL: sql, Arguments: args})
}

func (w *pgWriter) create(in *store.Object) (*store.Object, *store.Event, error) {
	if w.lookup(in.Key()) != nil {
		return nil, nil, fmt.Errorf("creating %s: %w", in.Key(), store.ErrAlreadyExists)
	}
	o := cloneObject(in)
	if o.UID == "" {
		o.UID = newUID()
	}
	o.ResourceVersion = w.rv + 1
	m, err := encodeMeta(o)
	if err != nil {
		return nil, nil, err
	}
	w.queueOp(pgCreate, o.Kind, o.Namespace, o.Name, o.UID, o.ResourceVersion, m, dataOf(o),
		entriesJSON(indexEntries(o.Labels, o.Fields, o.OwnerUIDs)), w.ts)
	w.pending[o.Key()] = &pgRow{uid: o.UID, rv: o.ResourceVersion, meta: m, data: dataOf(o)}
	return w.done(store.Added, o)
}

func (w *pgWriter) update(in *store.Object) (*store.Object, *store.Event, error) {
	k := in.Key()
	cur := w.lookup(k)
	if cur == nil {
		return nil, nil, fmt.Errorf("updating %s: %w", k, store.ErrNotFound)
	}
	if (in.ResourceVersion != 0 && in.ResourceVersion != cur.rv) || (in.UID != "" && in.UID != cur.uid) {
		return nil, nil, fmt.Errorf("updating %s (stored version %d, uid %s): %w", k, cur.rv, cur.uid, store.ErrConflict)
	}
	o := cloneObject(in)
	o.UID, o.ResourceVersion = cur.uid, w.rv+1
	m, err := encodeMeta(o)
	if err != nil {
		return nil, nil, err
	}
	old := &store.Object{Kind: k.Kind, Namespace: k.Namespace, Name: k.Name}
	if err := decodeMeta(cur.meta, old); err != nil {
		return nil, nil, err
	}
	removed, added := diffEntries(indexEntries(old.Labels, old.Fields, old.OwnerUIDs),
		indexEntries(o.Labels, o.Fields, o.OwnerUIDs))
	args := []any{k.Kind, k.Namespace, k.Name, o.ResourceVersion, m, dataOf(o), w.ts, o.UID, cur.rv}
	if len(removed) == 0 && len(added) == 0 {
		w.queueOp(pgUpdate, args...)
	} else {
		w.queueOp(pgUpdateIndexed, append(args, entriesJSON(removed), entriesJSON(added))...)
	}
	w.pending[k] = &pgRow{uid: o.UID, rv: o.ResourceVersion, meta: m, data: dataOf(o)}
	return w.done(store.Modified, o)
}

func (w *pgWriter) delete(k store.Key, precondition int64) (*store.Object, *store.Event, error) {
	cur := w.lookup(k)
	if cur == nil {
		return nil, nil, fmt.Errorf("deleting %s: %w", k, store.ErrNotFound)
	}
	if precondition != 0 && precondition != cur.rv {
		return nil, nil, fmt.Errorf("deleting %s (stored version %d, precondition %d): %w",
			k, cur.rv, precondition, store.ErrConflict)
	}
	o := &store.Object{Kind: k.Kind, Namespace: k.Namespace, Name: k.Name, UID: cur.uid,
		ResourceVersion: w.rv + 1, Data: slices.Clone(cur.data)}
	if err := decodeMeta(cur.meta, o); err != nil {
		return nil, nil, err
	}
	w.queueOp(pgDelete, k.Kind, k.Namespace, k.Name, cur.rv,
		entriesJSON(indexEntries(o.Labels, o.Fields, o.OwnerUIDs)),
		o.ResourceVersion, w.ts, o.UID, cur.meta, dataOf(o))
	w.pending[k] = nil
	return w.done(store.Deleted, o)
}

// done consumes the version of a successful op and builds its event.
func (w *pgWriter) done(typ store.EventType, o *store.Object) (*store.Object, *store.Event, error) {
	w.rv = o.ResourceVersion
	return o, &store.Event{Type: typ, Object: cloneObject(o)}, nil
}

// commit sends the second batch: the writes, the counter update and COMMIT.
// A group that writes nothing just ends its transaction.
func (w *pgWriter) commit(wrote bool) error {
	if !wrote {
		if _, err := w.conn.Exec(w.ctx, "ROLLBACK"); err != nil {
			return fmt.Errorf("ending write transaction: %w", err)
		}
		return nil
	}
	w.batch.Queue(w.d.finish, w.rv)
	w.batch.Queue("COMMIT")
	w.hub.expect(w.rv)
	if err := w.send(); err != nil {
		w.hub.abandon()
		return err
	}
	return nil
}

func (w *pgWriter) send() error {
	br := w.conn.SendBatch(w.ctx, &w.batch)
	for i := range w.batch.QueuedQueries {
		if _, err := br.Exec(); err != nil {
			_ = br.Close()
			return w.describe(i, err)
		}
	}
	if err := br.Close(); err != nil {
		return fmt.Errorf("committing writes: %w", err)
	}
	return nil
}

// describe says which statement of the second batch failed.
func (w *pgWriter) describe(i int, err error) error {
	switch n := len(w.batch.QueuedQueries); i {
	case n - 1:
		return fmt.Errorf("committing writes: %w", err)
	case n - 2:
		return fmt.Errorf("storing resource version %d: %w", w.rv, err)
	}
	a := w.batch.QueuedQueries[i].Arguments
	return fmt.Errorf("writing %s: %w", store.Key{Kind: a[0].(string), Namespace: a[1].(string), Name: a[2].(string)}, err)
}

// abort rolls back after a failure, unless the transaction is already over
// or the connection is gone (the pool then discards it).
func (w *pgWriter) abort() {
	if w.conn.IsClosed() || w.conn.PgConn().TxStatus() == 'I' {
		return
	}
	_, _ = w.conn.Exec(w.ctx, "ROLLBACK")
}
