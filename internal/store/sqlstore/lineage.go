package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/kilnbuild/kiln/internal/lineage"
)

// Lineage returns the trace index kept in the store's database. Its writes
// run in their own transactions (on SQLite over the writer connection, on
// PostgreSQL over the read pool, as compaction does); reads use the read
// pool.
func (s *Store) Lineage() lineage.Index { return &lineageIndex{s: s} }

type lineageIndex struct{ s *Store }

var _ lineage.Index = (*lineageIndex)(nil)

// chunk bounds the values bound in one statement.
const lineageChunk = 500

func (x *lineageIndex) inTx(ctx context.Context, what string, fn func(*sql.Tx) error) error {
	if err := x.s.checkOpen(); err != nil {
		return err
	}
	tx, err := x.s.cdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// Apply writes records atomically, each replacing what it asserted before.
func (x *lineageIndex) Apply(ctx context.Context, recs ...lineage.Record) error {
	for i := range recs {
		if err := recs[i].Validate(); err != nil {
			return fmt.Errorf("indexing %s: %w", recs[i].Key, err)
		}
	}
	return x.inTx(ctx, "indexing lineage", func(tx *sql.Tx) error {
		for i := range recs {
			if err := applyRecord(ctx, tx, &recs[i]); err != nil {
				return fmt.Errorf("%s: %w", recs[i].Key, err)
			}
		}
		return nil
	})
}

func applyRecord(ctx context.Context, tx *sql.Tx, r *lineage.Record) error {
	id, err := upsertRecord(ctx, tx, r.Key, r.Version)
	if err != nil {
		return err
	}
	old, err := clearRecord(ctx, tx, id)
	if err != nil {
		return err
	}
	ids, err := resolveNodes(ctx, tx, recordNodes(r))
	if err != nil {
		return err
	}
	for _, ev := range r.Evidence {
		if err := insertEvidence(ctx, tx, id, ev, ids); err != nil {
			return err
		}
	}
	return removeOrphans(ctx, tx, old)
}

func upsertRecord(ctx context.Context, tx *sql.Tx, k lineage.RecordKey, version string) (int64, error) {
	var id int64
	err := tx.QueryRowContext(ctx, `SELECT id FROM lineage_records WHERE kind = $1 AND namespace = $2 AND name = $3`,
		k.Kind, k.Namespace, k.Name).Scan(&id)
	switch {
	case err == nil:
		_, err = tx.ExecContext(ctx, `UPDATE lineage_records SET version = $1 WHERE id = $2`, version, id)
		return id, err
	case !errors.Is(err, sql.ErrNoRows):
		return 0, err
	}
	err = tx.QueryRowContext(ctx, `INSERT INTO lineage_records (kind, namespace, name, version) VALUES ($1, $2, $3, $4) RETURNING id`,
		k.Kind, k.Namespace, k.Name, version).Scan(&id)
	return id, err
}

// clearRecord deletes the sources and edges of record id and returns the
// nodes those edges touched (candidates for orphan removal).
func clearRecord(ctx context.Context, tx *sql.Tx, id int64) ([]int64, error) {
	rows, err := tx.QueryContext(ctx, `SELECT e.from_id, e.to_id FROM lineage_edges e
		JOIN lineage_sources s ON s.id = e.source_id WHERE s.record_id = $1`, id)
	if err != nil {
		return nil, err
	}
	seen := map[int64]bool{}
	var touched []int64
	for rows.Next() {
		var a, b int64
		if err := rows.Scan(&a, &b); err != nil {
			rows.Close()
			return nil, err
		}
		for _, n := range []int64{a, b} {
			if !seen[n] {
				seen[n] = true
				touched = append(touched, n)
			}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM lineage_edges WHERE source_id IN (SELECT id FROM lineage_sources WHERE record_id = $1)`, id); err != nil {
		return nil, err
	}
	_, err = tx.ExecContext(ctx, `DELETE FROM lineage_sources WHERE record_id = $1`, id)
	return touched, err
}

// removeOrphans deletes the nodes of ids that no edge touches any more.
func removeOrphans(ctx context.Context, tx *sql.Tx, ids []int64) error {
	for len(ids) > 0 {
		n := min(len(ids), lineageChunk)
		q := `DELETE FROM lineage_nodes WHERE id IN (` + placeholders(1, n) + `)
			AND NOT EXISTS (SELECT 1 FROM lineage_edges e WHERE e.from_id = lineage_nodes.id)
			AND NOT EXISTS (SELECT 1 FROM lineage_edges e WHERE e.to_id = lineage_nodes.id)`
		if _, err := tx.ExecContext(ctx, q, int64Args(ids[:n])...); err != nil {
			return fmt.Errorf("removing orphaned nodes: %w", err)
		}
		ids = ids[n:]
	}
	return nil
}

// nodeID is a node's identity.
type nodeID struct {
	kind    lineage.NodeKind
	key, ns string
}

func idOf(r lineage.NodeRef) nodeID { return nodeID{kind: r.Kind, key: r.Key, ns: r.Namespace} }

// recordNodes lists the distinct nodes a record's edges name; an owned
// reference wins over others of the same node.
func recordNodes(r *lineage.Record) []lineage.NodeRef {
	idx := map[nodeID]int{}
	var out []lineage.NodeRef
	add := func(n lineage.NodeRef) {
		if i, ok := idx[idOf(n)]; ok {
			if n.Owned && !out[i].Owned {
				out[i] = n
			}
			return
		}
		idx[idOf(n)] = len(out)
		out = append(out, n)
	}
	for _, ev := range r.Evidence {
		for _, e := range ev.Edges {
			add(e.From)
			add(e.To)
		}
	}
	return out
}

// storedNode is what resolveNodes reads back.
type storedNode struct {
	id           int64
	label, attrs string
}

// resolveNodes returns the id of every node in refs, inserting the missing
// ones and updating owned ones whose label or attributes changed.
func resolveNodes(ctx context.Context, tx *sql.Tx, refs []lineage.NodeRef) (map[nodeID]int64, error) {
	ids := make(map[nodeID]int64, len(refs))
	// One order for every writer: concurrent inserts of the same nodes wait
	// for each other instead of deadlocking.
	slices.SortFunc(refs, func(a, b lineage.NodeRef) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Key, b.Key), cmp.Compare(a.Namespace, b.Namespace))
	})
	for start := 0; start < len(refs); start += lineageChunk / 3 {
		part := refs[start:min(len(refs), start+lineageChunk/3)]
		found, err := lookupNodes(ctx, tx, part)
		if err != nil {
			return nil, err
		}
		if err := insertMissing(ctx, tx, part, found); err != nil {
			return nil, err
		}
		for _, r := range part {
			st := found[idOf(r)]
			if r.Owned && (st.label != r.LabelOrKey() || st.attrs != encodeAttrs(r.Attrs)) {
				if _, err := tx.ExecContext(ctx, `UPDATE lineage_nodes SET label = $1, attrs = $2 WHERE id = $3`,
					r.LabelOrKey(), encodeAttrs(r.Attrs), st.id); err != nil {
					return nil, err
				}
			}
			ids[idOf(r)] = st.id
		}
	}
	return ids, nil
}

func lookupNodes(ctx context.Context, tx *sql.Tx, refs []lineage.NodeRef) (map[nodeID]storedNode, error) {
	args := make([]any, 0, 3*len(refs))
	var vals []string
	for i, r := range refs {
		vals = append(vals, fmt.Sprintf("($%d, $%d, $%d)", 3*i+1, 3*i+2, 3*i+3))
		args = append(args, string(r.Kind), r.Key, r.Namespace)
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, kind, key, namespace, label, attrs FROM lineage_nodes
		WHERE (kind, key, namespace) IN (VALUES `+strings.Join(vals, ", ")+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("looking up nodes: %w", err)
	}
	defer rows.Close()
	out := make(map[nodeID]storedNode, len(refs))
	for rows.Next() {
		var k nodeID
		var st storedNode
		var kind string
		if err := rows.Scan(&st.id, &kind, &k.key, &k.ns, &st.label, &st.attrs); err != nil {
			return nil, err
		}
		k.kind = lineage.NodeKind(kind)
		out[k] = st
	}
	return out, rows.Err()
}

// insertMissing inserts the nodes of refs that found lacks and adds them to
// found. A node another writer inserted meanwhile is read back.
func insertMissing(ctx context.Context, tx *sql.Tx, refs []lineage.NodeRef, found map[nodeID]storedNode) error {
	var missing []lineage.NodeRef
	for _, r := range refs {
		if _, ok := found[idOf(r)]; !ok {
			missing = append(missing, r)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	args := make([]any, 0, 6*len(missing))
	var vals []string
	for i, r := range missing {
		vals = append(vals, "("+placeholders(6*i+1, 6)+")")
		args = append(args, string(r.Kind), r.Namespace, r.Key, r.AltOrKey(), r.LabelOrKey(), encodeAttrs(r.Attrs))
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO lineage_nodes (kind, namespace, key, alt, label, attrs) VALUES `+
		strings.Join(vals, ", ")+` ON CONFLICT (kind, key, namespace) DO NOTHING`, args...); err != nil {
		return fmt.Errorf("inserting nodes: %w", err)
	}
	again, err := lookupNodes(ctx, tx, missing)
	if err != nil {
		return err
	}
	for _, r := range missing {
		st, ok := again[idOf(r)]
		if !ok {
			return fmt.Errorf("node %s %s vanished while it was inserted", r.Kind, r.Key)
		}
		if r.Owned {
			st.label, st.attrs = r.LabelOrKey(), encodeAttrs(r.Attrs) // inserted as given
		}
		found[idOf(r)] = st
	}
	return nil
}

func insertEvidence(ctx context.Context, tx *sql.Tx, record int64, ev lineage.Evidence, ids map[nodeID]int64) error {
	var src int64
	err := tx.QueryRowContext(ctx, `INSERT INTO lineage_sources (record_id, origin, trust, key_id, reason, detail)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`, record, string(ev.Origin), string(ev.Trust), ev.KeyID, ev.Reason, ev.Detail).Scan(&src)
	if err != nil {
		return fmt.Errorf("inserting source: %w", err)
	}
	type edge struct {
		from, to int64
		kind     lineage.EdgeKind
	}
	seen := map[edge]bool{}
	var edges []edge
	for _, e := range ev.Edges {
		k := edge{ids[idOf(e.From)], ids[idOf(e.To)], e.Kind}
		if k.from != k.to && !seen[k] {
			seen[k] = true
			edges = append(edges, k)
		}
	}
	for len(edges) > 0 {
		n := min(len(edges), lineageChunk/4)
		args := make([]any, 0, 4*n)
		var vals []string
		for i, e := range edges[:n] {
			vals = append(vals, "("+placeholders(4*i+1, 4)+")")
			args = append(args, e.from, e.to, string(e.kind), src)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO lineage_edges (from_id, to_id, kind, source_id) VALUES `+
			strings.Join(vals, ", ")+` ON CONFLICT DO NOTHING`, args...); err != nil {
			return fmt.Errorf("inserting edges: %w", err)
		}
		edges = edges[n:]
	}
	return nil
}

// Delete removes what the records asserted.
func (x *lineageIndex) Delete(ctx context.Context, keys ...lineage.RecordKey) error {
	return x.inTx(ctx, "deleting lineage records", func(tx *sql.Tx) error {
		for _, k := range keys {
			var id int64
			err := tx.QueryRowContext(ctx, `SELECT id FROM lineage_records WHERE kind = $1 AND namespace = $2 AND name = $3`,
				k.Kind, k.Namespace, k.Name).Scan(&id)
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			if err != nil {
				return err
			}
			touched, err := clearRecord(ctx, tx, id)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM lineage_records WHERE id = $1`, id); err != nil {
				return err
			}
			if err := removeOrphans(ctx, tx, touched); err != nil {
				return err
			}
		}
		return nil
	})
}

// PurgeNamespace removes the namespace's records and nodes, every edge
// touching them, and the nodes that leaves without edges.
func (x *lineageIndex) PurgeNamespace(ctx context.Context, ns string) error {
	stmts := []string{
		`DELETE FROM lineage_edges WHERE source_id IN (SELECT s.id FROM lineage_sources s
			JOIN lineage_records r ON r.id = s.record_id WHERE r.namespace = $1)`,
		`DELETE FROM lineage_sources WHERE record_id IN (SELECT id FROM lineage_records WHERE namespace = $1)`,
		`DELETE FROM lineage_records WHERE namespace = $1`,
		`DELETE FROM lineage_edges WHERE from_id IN (SELECT id FROM lineage_nodes WHERE namespace = $1)`,
		`DELETE FROM lineage_edges WHERE to_id IN (SELECT id FROM lineage_nodes WHERE namespace = $1)`,
		`DELETE FROM lineage_nodes WHERE namespace = $1`,
	}
	return x.inTx(ctx, "purging the lineage of namespace "+ns, func(tx *sql.Tx) error {
		for _, q := range stmts {
			if _, err := tx.ExecContext(ctx, q, ns); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM lineage_nodes WHERE
			NOT EXISTS (SELECT 1 FROM lineage_edges e WHERE e.from_id = lineage_nodes.id)
			AND NOT EXISTS (SELECT 1 FROM lineage_edges e WHERE e.to_id = lineage_nodes.id)`)
		return err
	})
}

// Reset empties the index.
func (x *lineageIndex) Reset(ctx context.Context) error {
	return x.inTx(ctx, "resetting the lineage index", func(tx *sql.Tx) error {
		for _, t := range []string{"lineage_edges", "lineage_sources", "lineage_records", "lineage_nodes"} {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+t); err != nil {
				return err
			}
		}
		return nil
	})
}

// RecordVersion returns the version last applied for key.
func (x *lineageIndex) RecordVersion(ctx context.Context, key lineage.RecordKey) (string, bool, error) {
	if err := x.s.checkOpen(); err != nil {
		return "", false, err
	}
	var v string
	err := x.s.rdb.QueryRowContext(ctx, `SELECT version FROM lineage_records WHERE kind = $1 AND namespace = $2 AND name = $3`,
		key.Kind, key.Namespace, key.Name).Scan(&v)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return "", false, nil
	case err != nil:
		return "", false, fmt.Errorf("reading the indexed version of %s: %w", key, err)
	}
	return v, true, nil
}

// Records lists the indexed records of kind (all when empty).
func (x *lineageIndex) Records(ctx context.Context, kind string) ([]lineage.RecordKey, error) {
	if err := x.s.checkOpen(); err != nil {
		return nil, err
	}
	rows, err := x.s.rdb.QueryContext(ctx, `SELECT kind, namespace, name FROM lineage_records
		WHERE kind = $1 OR $1 = '' ORDER BY kind, namespace, name`, kind)
	if err != nil {
		return nil, fmt.Errorf("listing lineage records: %w", err)
	}
	defer rows.Close()
	var out []lineage.RecordKey
	for rows.Next() {
		var k lineage.RecordKey
		if err := rows.Scan(&k.Kind, &k.Namespace, &k.Name); err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

const nodeColumns = `n.id, n.kind, n.namespace, n.key, n.alt, n.label, n.attrs`

// Find returns the nodes m selects, ordered by namespace and key.
func (x *lineageIndex) Find(ctx context.Context, m lineage.Match) ([]lineage.Node, error) {
	if err := x.s.checkOpen(); err != nil {
		return nil, err
	}
	col, val := "n.key", m.Key
	if m.Key == "" {
		col, val = "n.alt", m.Alt
	}
	if m.Kind == "" || val == "" {
		return nil, fmt.Errorf("%w: a match needs a kind and a key or alt", lineage.ErrInvalid)
	}
	q := `SELECT ` + nodeColumns + ` FROM lineage_nodes n WHERE n.kind = $1 AND ` + col + ` = $2 AND (n.namespace = $3 OR $3 = '')
		ORDER BY n.namespace, n.key`
	if m.Limit > 0 {
		q += ` LIMIT ` + strconv.Itoa(m.Limit)
	}
	rows, err := x.s.rdb.QueryContext(ctx, q, string(m.Kind), val, m.Namespace)
	if err != nil {
		return nil, fmt.Errorf("finding %s nodes: %w", m.Kind, err)
	}
	defer rows.Close()
	var out []lineage.Node
	for rows.Next() {
		n, err := scanNode(rows, nil)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// Edges returns the edges of ids in direction d, from the covering indexes.
func (x *lineageIndex) Edges(ctx context.Context, d lineage.Direction, ids []int64) ([]lineage.Edge, error) {
	if err := x.s.checkOpen(); err != nil {
		return nil, err
	}
	near := "to_id" // up: what the nodes were made from
	if d == lineage.Down {
		near = "from_id"
	}
	var out []lineage.Edge
	for len(ids) > 0 {
		n := min(len(ids), lineageChunk)
		rows, err := x.s.rdb.QueryContext(ctx, `SELECT from_id, to_id, kind, source_id FROM lineage_edges WHERE `+near+
			` IN (`+placeholders(1, n)+`)`, int64Args(ids[:n])...)
		if err != nil {
			return nil, fmt.Errorf("reading edges: %w", err)
		}
		out, err = scanEdges(rows, out)
		if err != nil {
			return nil, err
		}
		ids = ids[n:]
	}
	return out, nil
}

func scanEdges(rows *sql.Rows, out []lineage.Edge) ([]lineage.Edge, error) {
	defer rows.Close()
	for rows.Next() {
		var e lineage.Edge
		var kind string
		if err := rows.Scan(&e.From, &e.To, &kind, &e.Source); err != nil {
			return nil, fmt.Errorf("reading edges: %w", err)
		}
		e.Kind = lineage.EdgeKind(kind)
		out = append(out, e)
	}
	return out, rows.Err()
}

// Nodes returns the nodes with these ids.
func (x *lineageIndex) Nodes(ctx context.Context, ids []int64) ([]lineage.Node, error) {
	if err := x.s.checkOpen(); err != nil {
		return nil, err
	}
	var out []lineage.Node
	for len(ids) > 0 {
		n := min(len(ids), lineageChunk)
		rows, err := x.s.rdb.QueryContext(ctx, `SELECT `+nodeColumns+` FROM lineage_nodes n WHERE n.id IN (`+placeholders(1, n)+`)`, int64Args(ids[:n])...)
		if err != nil {
			return nil, fmt.Errorf("reading nodes: %w", err)
		}
		for rows.Next() {
			node, err := scanNode(rows, nil)
			if err != nil {
				rows.Close()
				return nil, err
			}
			out = append(out, node)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		ids = ids[n:]
	}
	return out, nil
}

func scanNode(rows *sql.Rows, before []any) (lineage.Node, error) {
	var n lineage.Node
	var kind, attrs string
	dest := append(before, &n.ID, &kind, &n.Namespace, &n.Key, &n.Alt, &n.Label, &attrs)
	if err := rows.Scan(dest...); err != nil {
		return n, fmt.Errorf("reading a node: %w", err)
	}
	n.Kind = lineage.NodeKind(kind)
	if attrs != "" {
		if err := json.Unmarshal([]byte(attrs), &n.Attrs); err != nil {
			return n, fmt.Errorf("node %d attributes: %w", n.ID, err)
		}
	}
	return n, nil
}

// Sources returns the sources with these ids.
func (x *lineageIndex) Sources(ctx context.Context, ids []int64) ([]lineage.Source, error) {
	if err := x.s.checkOpen(); err != nil {
		return nil, err
	}
	var out []lineage.Source
	for len(ids) > 0 {
		n := min(len(ids), lineageChunk)
		rows, err := x.s.rdb.QueryContext(ctx, `SELECT s.id, r.kind, r.namespace, r.name, s.origin, s.trust, s.key_id, s.reason, s.detail
			FROM lineage_sources s JOIN lineage_records r ON r.id = s.record_id WHERE s.id IN (`+placeholders(1, n)+`)`, int64Args(ids[:n])...)
		if err != nil {
			return nil, fmt.Errorf("reading sources: %w", err)
		}
		for rows.Next() {
			var s lineage.Source
			var origin, trust string
			if err := rows.Scan(&s.ID, &s.Record.Kind, &s.Record.Namespace, &s.Record.Name, &origin, &trust, &s.KeyID, &s.Reason, &s.Detail); err != nil {
				rows.Close()
				return nil, err
			}
			s.Origin, s.Trust = lineage.Origin(origin), lineage.Trust(trust)
			out = append(out, s)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		ids = ids[n:]
	}
	return out, nil
}

// Stats counts what the index holds.
func (x *lineageIndex) Stats(ctx context.Context) (lineage.Stats, error) {
	var st lineage.Stats
	if err := x.s.checkOpen(); err != nil {
		return st, err
	}
	for t, v := range map[string]*int64{"lineage_nodes": &st.Nodes, "lineage_edges": &st.Edges,
		"lineage_records": &st.Records, "lineage_sources": &st.Sources} {
		if err := x.s.rdb.QueryRowContext(ctx, `SELECT count(*) FROM `+t).Scan(v); err != nil {
			return st, fmt.Errorf("counting %s: %w", t, err)
		}
	}
	return st, nil
}

// placeholders returns "$first, …" for n values.
func placeholders(first, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("$" + strconv.Itoa(first+i))
	}
	return b.String()
}

func int64Args(ids []int64) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return out
}

func encodeAttrs(m map[string]string) string {
	if len(m) == 0 {
		return ""
	}
	b, _ := json.Marshal(m) // sorted keys: a stable encoding to compare
	return string(b)
}
