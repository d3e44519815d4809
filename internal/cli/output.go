package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
	"sigs.k8s.io/yaml"

	"github.com/kilnbuild/kiln/internal/client"
)

// Output formats of -o.
const (
	outTable = "table"
	outWide  = "wide"
	outYAML  = "yaml"
	outJSON  = "json"
	outName  = "name"
)

func checkOutput(o string) error {
	switch o {
	case "", outTable, outWide, outYAML, outJSON, outName:
		return nil
	}
	return fmt.Errorf("unknown output format %q: use one of table, wide, yaml, json, name", o)
}

func newTabWriter(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
}

// printJSON writes v indented like kubectl (4 spaces).
func printJSON(w io.Writer, v any) error {
	data, err := json.MarshalIndent(v, "", "    ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", data)
	return err
}

func printYAML(w io.Writer, v any) error {
	data, err := yaml.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(data)
	return err
}

// listOf wraps objects in a kubectl-style v1 List.
func listOf(objs []client.Object) client.Object {
	items := make([]any, len(objs))
	for i, o := range objs {
		items[i] = map[string]any(o)
	}
	return client.Object{"apiVersion": "v1", "kind": "List", "metadata": map[string]any{"resourceVersion": ""}, "items": items}
}

// printObjects prints objects as yaml, json or names; single prints the
// one object bare instead of as a List.
func printObjects(w io.Writer, format string, objs []client.Object, kindName func(client.Object) string, single bool) error {
	var v any = listOf(objs)
	if single && len(objs) == 1 {
		v = objs[0]
	}
	switch format {
	case outYAML:
		return printYAML(w, v)
	case outJSON:
		return printJSON(w, v)
	case outName:
		for _, o := range objs {
			fmt.Fprintln(w, kindName(o))
		}
	}
	return nil
}

// tablePrinter prints metav1.Tables through a tabwriter, kubectl-style.
// With sticky set (watch mode), it remembers column widths so that rows
// printed one at a time line up with the table printed before them.
type tablePrinter struct {
	w         *tabwriter.Writer
	wide      bool
	withNS    bool   // add a NAMESPACE column (from each row's object)
	prefix    string // prepended to names, e.g. "component.kiln.dev/"
	noHeaders bool
	sticky    bool
	now       func() time.Time // ages are measured from now()

	defs       []metav1.TableColumnDefinition
	cols       []int // visible columns
	headerDone bool
	widths     []int
}

func (p *tablePrinter) setColumns(defs []metav1.TableColumnDefinition) {
	p.defs, p.cols = defs, nil
	for i, d := range defs {
		if d.Priority == 0 || p.wide {
			p.cols = append(p.cols, i)
		}
	}
}

func (p *tablePrinter) headerCells() []string {
	var cells []string
	if p.withNS {
		cells = append(cells, "NAMESPACE")
	}
	for _, i := range p.cols {
		cells = append(cells, strings.ToUpper(p.defs[i].Name))
	}
	return cells
}

func (p *tablePrinter) rowCells(row metav1.TableRow) []string {
	var cells []string
	if p.withNS {
		cells = append(cells, client.RowObject(row).Namespace())
	}
	for _, i := range p.cols {
		var v any
		if i < len(row.Cells) {
			v = row.Cells[i]
		}
		s := formatCell(p.defs[i], v, p.now())
		if p.prefix != "" && (p.defs[i].Format == "name" || i == 0) {
			s = p.prefix + s
		}
		cells = append(cells, s)
	}
	return cells
}

// print writes a whole table and flushes.
func (p *tablePrinter) print(t *metav1.Table) error {
	if p.defs == nil {
		p.setColumns(t.ColumnDefinitions)
	}
	var lines [][]string
	if !p.headerDone && !p.noHeaders {
		lines = append(lines, p.headerCells())
	}
	p.headerDone = true
	for _, r := range t.Rows {
		lines = append(lines, p.rowCells(r))
	}
	for _, l := range lines {
		p.measure(l)
	}
	for _, l := range lines {
		p.writeLine(l)
	}
	return p.w.Flush()
}

// row writes one row (and the header before the first); callers flush.
func (p *tablePrinter) row(row metav1.TableRow) {
	if !p.headerDone && !p.noHeaders {
		h := p.headerCells()
		p.measure(h)
		p.writeLine(h)
	}
	p.headerDone = true
	cells := p.rowCells(row)
	p.measure(cells)
	p.writeLine(cells)
}

func (p *tablePrinter) measure(cells []string) {
	if !p.sticky {
		return
	}
	for len(p.widths) < len(cells) {
		p.widths = append(p.widths, 0)
	}
	for i, c := range cells {
		p.widths[i] = max(p.widths[i], len(c))
	}
}

func (p *tablePrinter) writeLine(cells []string) {
	if p.sticky {
		for i := range len(cells) - 1 {
			cells[i] += strings.Repeat(" ", p.widths[i]-len(cells[i]))
		}
	}
	fmt.Fprintln(p.w, strings.Join(cells, "\t"))
}

// formatCell renders one cell: dates given as RFC 3339 become ages, nil is
// <none>, numbers print without exponent.
func formatCell(def metav1.TableColumnDefinition, v any, now time.Time) string {
	switch v := v.(type) {
	case nil:
		return "<none>"
	case string:
		if def.Type == "date" || def.Format == "date" {
			return formatDate(v, now)
		}
		return v
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1e15 {
			return fmt.Sprintf("%d", int64(v))
		}
		return fmt.Sprint(v)
	case bool, int, int64, int32:
		return fmt.Sprint(v)
	default:
		data, _ := json.Marshal(v)
		return string(data)
	}
}

// formatDate turns an RFC 3339 time into an age ("5m", "3d4h"); anything
// else (an age the server already computed) is returned as is.
func formatDate(s string, now time.Time) string {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return s
	}
	return age(now, t)
}

// age is how long before now t was.
func age(now, t time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t))
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
