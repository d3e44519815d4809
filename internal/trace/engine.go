// Package trace answers "what was this made from" and "what was made with
// this" over the lineage index (internal/lineage): the query engine (a
// breadth-first walk, one batched index read per level, that never enters
// a namespace the caller cannot read), the output formats, references and
// purl ranges, the indexer controller that keeps the index current as
// builds, snapshots and releases finish, and the import of artifacts built
// elsewhere. See docs/trace.md.
package trace

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/kilnbuild/kiln/internal/lineage"
)

// Limits of one trace.
const (
	DefaultLimit = 1000
	MaxLimit     = 100000
	// maxStarts bounds the start nodes one reference may select.
	maxStarts = 10000
)

// Query is one trace request.
type Query struct {
	Direction lineage.Direction
	Ref       Ref
	// Depth bounds the levels walked (0: no bound).
	Depth int
	// Limit bounds the nodes returned, start nodes included (0: DefaultLimit).
	Limit int
	// Readable says whether the caller may read a namespace; nil means
	// every namespace.
	Readable func(ns string) bool
}

// Result is a trace: the nodes reached, the edges between them, and what
// was left out.
type Result struct {
	Direction string       `json:"direction"`
	Ref       string       `json:"ref"`
	Roots     []string     `json:"roots"`
	Nodes     []ResultNode `json:"nodes"`
	Edges     []ResultEdge `json:"edges"`
	// Cut counts the nodes the walk reached in namespaces the caller cannot
	// read: not shown, not walked past.
	Cut int `json:"cut"`
	// Truncated is set when Limit stopped the walk.
	Truncated bool `json:"truncated"`
	Depth     int  `json:"depth,omitempty"`
	Limit     int  `json:"limit"`
}

// ResultNode is a node of a trace; ID is n1, n2… in output order.
type ResultNode struct {
	ID        string            `json:"id"`
	Kind      lineage.NodeKind  `json:"kind"`
	Namespace string            `json:"namespace"`
	Key       string            `json:"key"`
	Label     string            `json:"label"`
	Attrs     map[string]string `json:"attrs,omitempty"`
	// Depth is the number of edges from the nearest start node.
	Depth int `json:"depth"`
	// Cut counts this node's neighbours (in the walk's direction) in
	// namespaces the caller cannot read: where the trace was cut. They are
	// neither named nor walked past; Result.Cut counts them all.
	Cut  int `json:"cut,omitempty"`
	dbID int64
}

// ResultEdge is an edge (ingredient From → product To) with the evidence
// asserting it.
type ResultEdge struct {
	From string           `json:"from"`
	To   string           `json:"to"`
	Kind lineage.EdgeKind `json:"kind"`
	// Trust is the best of the sources': verified, kiln-record, unverified.
	Trust   lineage.Trust `json:"trust"`
	Sources []EdgeSource  `json:"sources"`
	src     []int64
}

// EdgeSource is one piece of evidence for an edge.
type EdgeSource struct {
	// Record is the object that asserted it ("Build team/greet-1a2b"); empty
	// when it lives in a namespace the caller cannot read.
	Record string         `json:"record,omitempty"`
	Origin lineage.Origin `json:"origin"`
	Trust  lineage.Trust  `json:"trust"`
	KeyID  string         `json:"keyId,omitempty"`
	Reason string         `json:"reason,omitempty"`
	Detail string         `json:"detail,omitempty"`
}

// ErrNotFound means the reference selects no indexed node.
var ErrNotFound = errors.New("not found")

// Engine runs traces over an index.
type Engine struct{ Index lineage.Index }

// Trace walks from the nodes q.Ref selects.
func (e *Engine) Trace(ctx context.Context, q Query) (*Result, error) {
	q.Limit = cmp.Or(q.Limit, DefaultLimit)
	if q.Limit < 0 || q.Limit > MaxLimit || q.Depth < 0 {
		return nil, fmt.Errorf("limit must be 1–%d and depth 0 (no bound) or more", MaxLimit)
	}
	if q.Readable == nil {
		q.Readable = func(string) bool { return true }
	}
	w := &walk{e: e, q: q, nodes: map[int64]*ResultNode{}, edges: map[edgeKey]*ResultEdge{}, cut: map[int64]bool{},
		cutAt: map[int64]map[int64]bool{}}
	starts, err := w.starts(ctx)
	if err != nil {
		return nil, err
	}
	if err := w.run(ctx, starts); err != nil {
		return nil, err
	}
	return w.result(ctx)
}

type edgeKey struct {
	from, to int64
	kind     lineage.EdgeKind
}

type walk struct {
	e         *Engine
	q         Query
	nodes     map[int64]*ResultNode
	order     []int64
	edges     map[edgeKey]*ResultEdge
	cut       map[int64]bool
	cutAt     map[int64]map[int64]bool // shown node → its cut neighbours
	truncated bool
}

// starts resolves the reference into readable start nodes.
func (w *walk) starts(ctx context.Context) ([]lineage.Node, error) {
	var found []lineage.Node
	for _, m := range w.q.Ref.Matches {
		m.Limit = maxStarts
		nodes, err := w.e.Index.Find(ctx, m)
		if err != nil {
			return nil, err
		}
		for _, n := range nodes {
			if w.q.Ref.Package == nil || w.q.Ref.Package.Matches(n.Attrs["version"]) {
				found = append(found, n)
			}
		}
		if len(found) > 0 {
			break // the first kind that matches wins (an artifact before a step image)
		}
	}
	var out []lineage.Node
	for _, n := range found {
		if w.q.Readable(n.Namespace) {
			out = append(out, n)
		} else {
			w.cut[n.ID] = true
		}
	}
	if len(found) == 0 {
		return nil, fmt.Errorf("%w: no %s is indexed (check the reference; `kiln trace reindex` rebuilds a lost index)", ErrNotFound, w.q.Ref.What)
	}
	return out, nil
}

func (w *walk) run(ctx context.Context, starts []lineage.Node) error {
	var frontier []int64
	for _, n := range starts {
		if w.add(n, 0) {
			frontier = append(frontier, n.ID)
		}
	}
	for depth := 1; len(frontier) > 0 && !w.truncated && (w.q.Depth == 0 || depth <= w.q.Depth); depth++ {
		var next []int64
		// A level is read in slices of its frontier, so that a level that
		// reaches the limit reads no more than it needs.
		for start := 0; start < len(frontier) && !w.truncated; start += levelSlice {
			edges, err := w.e.Index.Edges(ctx, w.q.Direction, frontier[start:min(len(frontier), start+levelSlice)])
			if err != nil {
				return err
			}
			fresh, err := w.admit(ctx, w.unseen(edges), depth)
			if err != nil {
				return err
			}
			next = append(next, fresh...)
			for _, e := range edges {
				w.follow(e)
			}
		}
		frontier = next
	}
	return nil
}

// levelSlice is how many frontier nodes one index read starts from.
const levelSlice = 256

// far is the end of e away from the walk's frontier.
func (w *walk) far(e lineage.Edge) int64 {
	if w.q.Direction == lineage.Down {
		return e.To
	}
	return e.From
}

// unseen lists, in id order, the far ends of edges not met yet.
func (w *walk) unseen(edges []lineage.Edge) []int64 {
	seen := map[int64]bool{}
	var out []int64
	for _, e := range edges {
		id := w.far(e)
		if _, ok := w.nodes[id]; !ok && !w.cut[id] && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// admit reads the nodes of ids (in id order) until the limit is reached:
// unreadable ones are cut, readable ones added. It returns the added ones;
// ids left unread make the trace truncated. Only as many nodes are read as
// can be shown, however many edges lead on.
func (w *walk) admit(ctx context.Context, ids []int64, depth int) ([]int64, error) {
	var fresh []int64
	for len(ids) > 0 && !w.truncated {
		n := min(len(ids), max(w.q.Limit-len(w.nodes), 64))
		nodes, err := w.e.Index.Nodes(ctx, ids[:n])
		if err != nil {
			return nil, err
		}
		slices.SortFunc(nodes, func(a, b lineage.Node) int { return cmp.Compare(a.ID, b.ID) })
		for _, node := range nodes {
			switch {
			case !w.q.Readable(node.Namespace):
				w.cut[node.ID] = true
			case w.add(node, depth):
				fresh = append(fresh, node.ID)
			}
		}
		ids = ids[n:]
	}
	if len(ids) > 0 {
		w.truncated = true
	}
	return fresh, nil
}

// add records a node; false when the limit is reached.
func (w *walk) add(n lineage.Node, depth int) bool {
	if len(w.nodes) >= w.q.Limit {
		w.truncated = true
		return false
	}
	w.nodes[n.ID] = &ResultNode{Kind: n.Kind, Namespace: n.Namespace, Key: n.Key, Label: n.Label, Attrs: n.Attrs, Depth: depth, dbID: n.ID}
	w.order = append(w.order, n.ID)
	return true
}

// follow records an edge between two nodes of the trace, or where an
// edge from a shown node leads into an unreadable namespace.
func (w *walk) follow(e lineage.Edge) {
	_, from := w.nodes[e.From]
	_, to := w.nodes[e.To]
	if !from || !to {
		w.markCut(e)
		return
	}
	k := edgeKey{e.From, e.To, e.Kind}
	re := w.edges[k]
	if re == nil {
		re = &ResultEdge{Kind: e.Kind}
		w.edges[k] = re
	}
	if !slices.Contains(re.src, e.Source) {
		re.src = append(re.src, e.Source)
	}
}

// markCut notes that e leads from a shown node to a cut one.
func (w *walk) markCut(e lineage.Edge) {
	near, far := e.From, e.To
	if w.q.Direction == lineage.Up {
		near, far = far, near
	}
	if _, ok := w.nodes[near]; !ok || !w.cut[far] {
		return
	}
	if w.cutAt[near] == nil {
		w.cutAt[near] = map[int64]bool{}
	}
	w.cutAt[near][far] = true
}

// result numbers the nodes, attaches the evidence and orders everything.
func (w *walk) result(ctx context.Context) (*Result, error) {
	res := &Result{Direction: directionName(w.q.Direction), Ref: w.q.Ref.Text, Cut: len(w.cut), Truncated: w.truncated,
		Depth: w.q.Depth, Limit: w.q.Limit, Roots: []string{}, Nodes: []ResultNode{}, Edges: []ResultEdge{}}
	nodes := make([]*ResultNode, 0, len(w.nodes))
	for _, id := range w.order {
		nodes = append(nodes, w.nodes[id])
	}
	slices.SortStableFunc(nodes, func(a, b *ResultNode) int {
		return cmp.Or(cmp.Compare(a.Depth, b.Depth), cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Key, b.Key))
	})
	for i, n := range nodes {
		n.ID = "n" + strconv.Itoa(i+1)
		n.Cut = len(w.cutAt[n.dbID])
		res.Nodes = append(res.Nodes, *n)
		if n.Depth == 0 {
			res.Roots = append(res.Roots, n.ID)
		}
	}
	sources, err := w.sources(ctx)
	if err != nil {
		return nil, err
	}
	for k, e := range w.edges {
		e.From, e.To = w.nodes[k.from].ID, w.nodes[k.to].ID
		for _, id := range e.src {
			if s, ok := sources[id]; ok {
				e.Sources = append(e.Sources, s)
			}
		}
		slices.SortFunc(e.Sources, compareSources)
		e.Trust = bestTrust(e.Sources)
		res.Edges = append(res.Edges, *e)
	}
	slices.SortFunc(res.Edges, func(a, b ResultEdge) int {
		return cmp.Or(compareIDs(a.From, b.From), compareIDs(a.To, b.To), cmp.Compare(a.Kind, b.Kind))
	})
	return res, nil
}

func compareIDs(a, b string) int {
	x, _ := strconv.Atoi(a[1:])
	y, _ := strconv.Atoi(b[1:])
	return cmp.Compare(x, y)
}

func compareSources(a, b EdgeSource) int {
	return cmp.Or(cmp.Compare(trustRank(b.Trust), trustRank(a.Trust)), cmp.Compare(a.Origin, b.Origin),
		cmp.Compare(a.Record, b.Record), cmp.Compare(a.Detail, b.Detail))
}

// sources reads the evidence of every edge; records in namespaces the
// caller cannot read are not named.
func (w *walk) sources(ctx context.Context) (map[int64]EdgeSource, error) {
	seen := map[int64]bool{}
	var ids []int64
	for _, e := range w.edges {
		for _, id := range e.src {
			if !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	slices.Sort(ids)
	srcs, err := w.e.Index.Sources(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[int64]EdgeSource, len(srcs))
	for _, s := range srcs {
		es := EdgeSource{Origin: s.Origin, Trust: s.Trust, KeyID: s.KeyID, Reason: s.Reason}
		if w.q.Readable(s.Record.Namespace) {
			es.Record, es.Detail = s.Record.String(), s.Detail
		}
		out[s.ID] = es
	}
	return out, nil
}

func trustRank(t lineage.Trust) int {
	switch t {
	case lineage.TrustVerified:
		return 2
	case lineage.TrustRecord:
		return 1
	}
	return 0
}

func bestTrust(srcs []EdgeSource) lineage.Trust {
	best := lineage.TrustUnverified
	for _, s := range srcs {
		if trustRank(s.Trust) > trustRank(best) {
			best = s.Trust
		}
	}
	return best
}

func directionName(d lineage.Direction) string {
	if d == lineage.Down {
		return "down"
	}
	return "up"
}

// Service is the engine and the indexer together, as the API serves them.
type Service struct {
	*Engine
	*Indexer
}
