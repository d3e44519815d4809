package cli

import (
	"context"
	"encoding/json"
	"io"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kilnbuild/kiln/internal/client"
)

// runWatch prints the current objects (unless --watch-only), then one line
// (or document) per change until interrupted. The client resumes the
// watch after disconnects and re-lists when the server has forgotten the
// version.
func (o *getOptions) runWatch(cmd *cobra.Command, c *client.Client, t target) error {
	ctx := cmd.Context()
	ns := namespaceOf(o.g, t.res, o.allNamespaces)
	opts := o.listOptions()
	if len(t.names) == 1 {
		opts.FieldSelector = joinSelectors(opts.FieldSelector, "metadata.name="+t.names[0])
	}
	var ep eventPrinter
	var err error
	switch o.output {
	case outYAML, outJSON, outName:
		ep, err = o.startObjectWatch(ctx, c, t.res, ns, &opts, cmd.OutOrStdout())
	default:
		ep, err = o.startTableWatch(ctx, c, t.res, ns, &opts, cmd.OutOrStdout())
	}
	if err != nil {
		return err
	}
	for ev, err := range c.Watch(ctx, t.res, ns, ep.options(opts)) {
		if err != nil {
			return err
		}
		if err := ep.event(ctx, ev); err != nil {
			return err
		}
	}
	return nil
}

func joinSelectors(a, b string) string {
	if a == "" {
		return b
	}
	return a + "," + b
}

// eventPrinter prints watch events in one output format.
type eventPrinter interface {
	options(client.ListOptions) client.WatchOptions
	event(context.Context, client.Event) error
}

// objectWatch prints events as yaml documents, json objects or names.
type objectWatch struct {
	w      io.Writer
	format string
	res    client.Resource
	rv     string
	known  []client.Object
	count  int
}

func (o *getOptions) startObjectWatch(ctx context.Context, c *client.Client, res client.Resource, ns string, opts *client.ListOptions, w io.Writer) (eventPrinter, error) {
	list, err := c.List(ctx, res, ns, *opts)
	if err != nil {
		return nil, err
	}
	ow := &objectWatch{w: w, format: o.output, res: res, rv: list.ResourceVersion, known: list.Items}
	if !o.watchOnly {
		for _, it := range list.Items {
			if err := ow.print(it); err != nil {
				return nil, err
			}
		}
	}
	return ow, nil
}

func (ow *objectWatch) options(opts client.ListOptions) client.WatchOptions {
	opts.ResourceVersion = ow.rv
	return client.WatchOptions{ListOptions: opts, Known: ow.known}
}

func (ow *objectWatch) event(_ context.Context, ev client.Event) error { return ow.print(ev.Object) }

func (ow *objectWatch) print(obj client.Object) error {
	ow.count++
	switch ow.format {
	case outYAML:
		if ow.count > 1 {
			if _, err := io.WriteString(ow.w, "---\n"); err != nil {
				return err
			}
		}
		return printYAML(ow.w, obj)
	case outJSON:
		return printJSON(ow.w, obj)
	}
	_, err := io.WriteString(ow.w, ow.res.KindName(obj.Name())+"\n")
	return err
}

// tableWatch prints events as table rows with the server's columns.
type tableWatch struct {
	c     *client.Client
	res   client.Resource
	p     *tablePrinter
	rv    string
	known []client.Object
	rows  map[string]metav1.TableRow // last row per namespace/name
}

func (o *getOptions) startTableWatch(ctx context.Context, c *client.Client, res client.Resource, ns string, opts *client.ListOptions, w io.Writer) (eventPrinter, error) {
	tbl, err := c.Table(ctx, res, ns, "", *opts)
	if err != nil {
		return nil, err
	}
	tw := &tableWatch{c: c, res: res, p: o.printer(w, res, false), rv: tbl.ResourceVersion, rows: map[string]metav1.TableRow{}}
	tw.p.sticky = true
	tw.p.setColumns(tbl.ColumnDefinitions)
	for _, r := range tbl.Rows {
		obj := client.RowObject(r)
		tw.known = append(tw.known, obj)
		tw.rows[rowKey(obj)] = r
	}
	if !o.watchOnly {
		if err := tw.p.print(tbl); err != nil {
			return nil, err
		}
	}
	return tw, nil
}

func rowKey(meta client.Object) string { return meta.Namespace() + "/" + meta.Name() }

func (tw *tableWatch) options(opts client.ListOptions) client.WatchOptions {
	opts.ResourceVersion = tw.rv
	return client.WatchOptions{ListOptions: opts, Known: tw.known, AsTable: true}
}

func (tw *tableWatch) event(ctx context.Context, ev client.Event) error {
	tw.p.row(tw.rowFor(ctx, ev))
	return tw.p.w.Flush()
}

// rowFor finds the row to print: from a Table event, else (plain objects
// after a re-list) from the server, or the last row seen for a deletion.
func (tw *tableWatch) rowFor(ctx context.Context, ev client.Event) metav1.TableRow {
	meta := client.MetaObject(ev.Object)
	key := rowKey(meta)
	if ev.Object.Kind() == "Table" {
		if r, ok := tw.tableRow(ev.Object); ok {
			tw.rows[key] = r
			return r
		}
	}
	if ev.Type == client.Deleted {
		if r, ok := tw.rows[key]; ok {
			return r
		}
		return tw.fallbackRow(ev.Object)
	}
	tbl, err := tw.c.Table(ctx, tw.res, meta.Namespace(), meta.Name(), client.ListOptions{})
	if err != nil || len(tbl.Rows) == 0 {
		return tw.fallbackRow(ev.Object)
	}
	tw.rows[key] = tbl.Rows[0]
	return tbl.Rows[0]
}

func (tw *tableWatch) tableRow(obj client.Object) (metav1.TableRow, bool) {
	data, err := json.Marshal(obj)
	if err != nil {
		return metav1.TableRow{}, false
	}
	var tbl metav1.Table
	if json.Unmarshal(data, &tbl) != nil || len(tbl.Rows) == 0 {
		return metav1.TableRow{}, false
	}
	return tbl.Rows[0], true
}

// fallbackRow fills the name and date columns from the object itself.
func (tw *tableWatch) fallbackRow(obj client.Object) metav1.TableRow {
	row := client.ObjectRow(obj)
	cells := make([]any, len(tw.p.defs))
	for i, d := range tw.p.defs {
		switch {
		case i == 0 || d.Format == "name":
			cells[i] = obj.Name()
		case d.Type == "date" && d.Name == "Age":
			cells[i] = obj.String("metadata", "creationTimestamp")
		default:
			cells[i] = ""
		}
	}
	row.Cells = cells
	return row
}
