package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kilnbuild/kiln/internal/client"
)

type getOptions struct {
	g             *globals
	allNamespaces bool
	selector      string
	fieldSelector string
	output        string
	watch         bool
	watchOnly     bool
	noHeaders     bool
}

func newGetCommand(g *globals) *cobra.Command {
	o := &getOptions{g: g}
	cmd := &cobra.Command{
		Use:   "get TYPE[,TYPE...] [NAME...] | TYPE/NAME...",
		Short: "List objects or show some of them",
		Long: "List objects of one or more types, or show named objects.\n\n" +
			"Table columns come from the server. TYPE is a plural, singular, short name or kind\n" +
			"(components, component, comp, Component) or plural.group (components.kiln.dev).",
		Example: "  kiln get components\n  kiln get comp web -o yaml\n  kiln get applications,components -A\n" +
			"  kiln get components -l app=shop -w",
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, args)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "list across all namespaces")
	f.StringVarP(&o.selector, "selector", "l", "", "label selector, e.g. app=shop,tier!=db")
	f.StringVar(&o.fieldSelector, "field-selector", "", "field selector, e.g. spec.application=shop")
	f.StringVarP(&o.output, "output", "o", "", "output format: table, wide, yaml, json or name")
	f.BoolVarP(&o.watch, "watch", "w", false, "after listing, watch for changes")
	f.BoolVar(&o.watchOnly, "watch-only", false, "watch for changes without listing first")
	f.BoolVar(&o.noHeaders, "no-headers", false, "omit table headers")
	return cmd
}

func (o *getOptions) run(cmd *cobra.Command, args []string) error {
	if err := checkOutput(o.output); err != nil {
		return err
	}
	c, err := o.g.client(cmd)
	if err != nil {
		return err
	}
	targets, err := parseTargets(cmd.Context(), c, args)
	if err != nil {
		return err
	}
	if o.watch || o.watchOnly {
		if len(targets) != 1 || len(targets[0].names) > 1 {
			return errors.New("watch needs one resource type and at most one name")
		}
		return o.runWatch(cmd, c, targets[0])
	}
	switch o.output {
	case outYAML, outJSON, outName:
		return o.printObjects(cmd, c, targets)
	}
	return o.printTables(cmd, c, targets)
}

func (o *getOptions) listOptions() client.ListOptions {
	return client.ListOptions{LabelSelector: o.selector, FieldSelector: o.fieldSelector}
}

// printObjects prints yaml, json or names: the object itself when exactly
// one was named, else a List.
func (o *getOptions) printObjects(cmd *cobra.Command, c *client.Client, targets []target) error {
	ctx := cmd.Context()
	var objs []client.Object
	var errs []error
	kinds := map[string]client.Resource{}
	for _, t := range targets {
		got, e := o.fetch(ctx, c, t)
		objs, errs = append(objs, got...), append(errs, e...)
		kinds[t.res.Kind] = t.res
	}
	single := len(targets) == 1 && len(targets[0].names) == 1
	if len(objs) > 0 || !single {
		name := func(obj client.Object) string { return kinds[obj.Kind()].KindName(obj.Name()) }
		if err := printObjects(cmd.OutOrStdout(), o.output, objs, name, single); err != nil {
			return err
		}
	}
	return errors.Join(errs...)
}

// fetch gets the named objects of t, or lists them all.
func (o *getOptions) fetch(ctx context.Context, c *client.Client, t target) ([]client.Object, []error) {
	ns := namespaceOf(o.g, t.res, o.allNamespaces)
	if len(t.names) == 0 {
		list, err := c.List(ctx, t.res, ns, o.listOptions())
		if err != nil {
			return nil, []error{err}
		}
		for _, it := range list.Items {
			if it.Kind() == "" { // list items may omit their kind
				it["kind"], it["apiVersion"] = t.res.Kind, t.res.GroupVersion()
			}
		}
		return list.Items, nil
	}
	var objs []client.Object
	var errs []error
	for _, name := range t.names {
		obj, err := c.Get(ctx, t.res, ns, name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		objs = append(objs, obj)
	}
	return objs, errs
}

// printTables prints one server-rendered table per type.
func (o *getOptions) printTables(cmd *cobra.Command, c *client.Client, targets []target) error {
	var errs []error
	rows, printed := 0, false
	for _, t := range targets {
		tbl, e := o.table(cmd.Context(), c, t)
		errs = append(errs, e...)
		if tbl == nil || len(tbl.Rows) == 0 {
			continue
		}
		if printed {
			fmt.Fprintln(cmd.OutOrStdout())
		}
		p := o.printer(cmd.OutOrStdout(), t.res, len(targets) > 1)
		if err := p.print(tbl); err != nil {
			return err
		}
		rows += len(tbl.Rows)
		printed = true
	}
	if rows == 0 && len(errs) == 0 {
		fmt.Fprintln(cmd.ErrOrStderr(), o.noneFound(targets))
	}
	return errors.Join(errs...)
}

func (o *getOptions) printer(w io.Writer, res client.Resource, prefixKind bool) *tablePrinter {
	p := &tablePrinter{w: newTabWriter(w), wide: o.output == outWide, noHeaders: o.noHeaders,
		withNS: o.allNamespaces && res.Namespaced, now: o.g.opts.now}
	if prefixKind {
		p.prefix = res.KindGroup() + "/"
	}
	return p
}

func (o *getOptions) noneFound(targets []target) string {
	for _, t := range targets {
		if t.res.Namespaced && !o.allNamespaces {
			return fmt.Sprintf("No resources found in %s namespace.", o.g.ns())
		}
	}
	return "No resources found"
}

// table fetches t as one table: the listed objects, or each named one.
func (o *getOptions) table(ctx context.Context, c *client.Client, t target) (*metav1.Table, []error) {
	ns := namespaceOf(o.g, t.res, o.allNamespaces)
	if len(t.names) == 0 {
		tbl, err := c.Table(ctx, t.res, ns, "", o.listOptions())
		if err != nil {
			return nil, []error{err}
		}
		return tbl, nil
	}
	var out *metav1.Table
	var errs []error
	for _, name := range t.names {
		tbl, err := c.Table(ctx, t.res, ns, name, client.ListOptions{})
		switch {
		case err != nil:
			errs = append(errs, err)
		case out == nil:
			out = tbl
		default:
			out.Rows = append(out.Rows, tbl.Rows...)
		}
	}
	return out, errs
}
