package sqlstore

import (
	"strconv"
	"strings"

	"github.com/kilnbuild/kiln/internal/store"
)

// listPlan is the SQL for a Filter. The most selective indexable requirement
// (owner UID, then an = or in requirement) drives the query from the
// object_index primary key, which yields rows already ordered by
// (namespace, name); further = and in requirements become primary-key
// lookups (EXISTS). Negative and existence requirements cannot use an index
// without scanning, so they stay in residual and are checked in Go on the
// candidate rows, with the same matcher the watch hub uses.
type listPlan struct {
	from     string
	alias    string // table whose namespace/name order the rows: "d" or "o"
	conds    []string
	args     []any
	residual store.Filter // only Labels and Fields are set
	empty    bool         // the filter matches nothing
	// dataOnly skips reading and decoding the metadata column (set when
	// the caller asked for DataOnly and no requirement is checked in Go).
	dataOnly bool
}

// arg appends a bind argument and returns its placeholder.
func (p *listPlan) arg(v any) string {
	p.args = append(p.args, v)
	return "$" + strconv.Itoa(len(p.args))
}

func (p *listPlan) argList(vs []string) string {
	ph := make([]string, len(vs))
	for i, v := range vs {
		ph[i] = p.arg(v)
	}
	return strings.Join(ph, ", ")
}

// driverReq is the requirement that drives the plan from object_index.
type driverReq struct {
	key    string
	values []string
	label  int // index in Filter.Labels, or -1
	field  int // index in Filter.Fields, or -1
}

func pickDriver(f *store.Filter) *driverReq {
	if f.OwnerUID != "" {
		return &driverReq{key: ownerKey, values: []string{f.OwnerUID}, label: -1, field: -1}
	}
	for _, op := range []store.Operator{store.OpEquals, store.OpIn} {
		for i, r := range f.Labels {
			if r.Operator == op {
				return &driverReq{key: labelPrefix + r.Key, values: r.Values, label: i, field: -1}
			}
		}
		for i, r := range f.Fields {
			if r.Operator == op && !isMetaField(r.Key) {
				return &driverReq{key: fieldPrefix + r.Key, values: r.Values, label: -1, field: i}
			}
		}
	}
	return nil
}

func isMetaField(key string) bool { return key == fieldName || key == fieldNamespace }

func planList(d *dialect, f *store.Filter) *listPlan {
	p := &listPlan{}
	drv := pickDriver(f)
	if drv != nil {
		p.from, p.alias = d.joinDriver, "d"
		p.conds = append(p.conds, "d.kind = "+p.arg(f.Kind), "d.key = "+p.arg(drv.key),
			"d.value IN ("+p.argList(drv.values)+")",
			"o.kind = d.kind", "o.namespace = d.namespace", "o.name = d.name")
	} else {
		p.from, p.alias = "objects o", "o"
		p.conds = append(p.conds, "o.kind = "+p.arg(f.Kind))
	}
	p.planNamespaces(f)
	for i, r := range f.Labels {
		if drv == nil || drv.label != i {
			p.planRequirement(labelPrefix, r, &p.residual.Labels)
		}
	}
	for i, r := range f.Fields {
		if drv == nil || drv.field != i {
			p.planField(r)
		}
	}
	return p
}

func (p *listPlan) planNamespaces(f *store.Filter) {
	if f.Namespace != "" {
		p.conds = append(p.conds, p.alias+".namespace = "+p.arg(f.Namespace))
	}
	if f.Namespaces == nil {
		return
	}
	if len(f.Namespaces) == 0 {
		p.empty = true
		return
	}
	p.conds = append(p.conds, p.alias+".namespace IN ("+p.argList(f.Namespaces)+")")
}

func (p *listPlan) planField(r store.Requirement) {
	switch r.Key {
	case fieldName:
		p.planColumn(p.alias+".name", r)
	case fieldNamespace:
		p.planColumn(p.alias+".namespace", r)
	default:
		p.planRequirement(fieldPrefix, r, &p.residual.Fields)
	}
}

// planRequirement turns = and in into an index lookup; the other operators
// go to residual.
func (p *listPlan) planRequirement(prefix string, r store.Requirement, residual *[]store.Requirement) {
	if r.Operator != store.OpEquals && r.Operator != store.OpIn {
		*residual = append(*residual, r)
		return
	}
	p.conds = append(p.conds, "EXISTS (SELECT 1 FROM object_index x WHERE x.kind = o.kind"+
		" AND x.key = "+p.arg(prefix+r.Key)+" AND x.value IN ("+p.argList(r.Values)+")"+
		" AND x.namespace = o.namespace AND x.name = o.name)")
}

// planColumn applies a metadata.name / metadata.namespace requirement.
func (p *listPlan) planColumn(col string, r store.Requirement) {
	switch r.Operator {
	case store.OpEquals, store.OpIn:
		p.conds = append(p.conds, col+" IN ("+p.argList(r.Values)+")")
	case store.OpNotEquals, store.OpNotIn:
		p.conds = append(p.conds, col+" NOT IN ("+p.argList(r.Values)+")")
	case store.OpDoesNotExist:
		p.empty = true // the column always exists
	}
}

func (p *listPlan) hasResidual() bool {
	return len(p.residual.Labels) > 0 || len(p.residual.Fields) > 0
}

func (p *listPlan) keep(o *store.Object) bool {
	return matchLabels(p.residual.Labels, o) && matchFields(p.residual.Fields, o)
}

// selectSQL returns the page query: rows after the keyset position, in
// (namespace, name) order, at most limit rows (0 = all).
func (p *listPlan) selectSQL(after *continueToken, limit int) (string, []any) {
	q := &listPlan{args: append([]any(nil), p.args...)}
	cols := objectColumns
	if p.dataOnly {
		cols = objectColumnsNoMeta
	}
	conds := append([]string(nil), p.conds...)
	if after != nil {
		conds = append(conds, "("+p.alias+".namespace, "+p.alias+".name) > ("+
			q.arg(after.Namespace)+", "+q.arg(after.Name)+")")
	}
	sql := "SELECT " + cols + " FROM " + p.from + " WHERE " + strings.Join(conds, " AND ") +
		" ORDER BY " + p.alias + ".namespace, " + p.alias + ".name"
	if limit > 0 {
		sql += " LIMIT " + q.arg(limit)
	}
	return sql, q.args
}

func (p *listPlan) countSQL() (string, []any) {
	return "SELECT count(*) FROM " + p.from + " WHERE " + strings.Join(p.conds, " AND "), p.args
}
