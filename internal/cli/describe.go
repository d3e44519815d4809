package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/kilnbuild/kiln/internal/client"
)

type describeOptions struct {
	g             *globals
	allNamespaces bool
	selector      string
}

func newDescribeCommand(g *globals) *cobra.Command {
	o := &describeOptions{g: g}
	cmd := &cobra.Command{
		Use:   "describe TYPE [NAME...] | TYPE/NAME...",
		Short: "Show objects in detail",
		Long: "Show objects in a human-readable layout: metadata, spec, status and conditions.\n" +
			"Without a name, every object of the type (in the namespace) is described.",
		Example: "  kiln describe component web\n  kiln describe releases -l app=shop",
		Args:    cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, args)
		},
	}
	cmd.Flags().BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "describe objects in all namespaces")
	cmd.Flags().StringVarP(&o.selector, "selector", "l", "", "label selector")
	return cmd
}

func (o *describeOptions) run(cmd *cobra.Command, args []string) error {
	c, err := o.g.client(cmd)
	if err != nil {
		return err
	}
	targets, err := parseTargets(cmd.Context(), c, args)
	if err != nil {
		return err
	}
	get := &getOptions{g: o.g, allNamespaces: o.allNamespaces, selector: o.selector}
	var errs []error
	n := 0
	for _, t := range targets {
		objs, e := get.fetch(cmd.Context(), c, t)
		errs = append(errs, e...)
		for _, obj := range objs {
			if n++; n > 1 {
				fmt.Fprintln(cmd.OutOrStdout())
			}
			describeObject(cmd.OutOrStdout(), o.g.opts.now(), t.res, obj, o.extra(cmd, c, t.res, obj))
		}
	}
	if n == 0 && len(errs) == 0 {
		fmt.Fprintln(cmd.ErrOrStderr(), get.noneFound(targets))
	}
	return errors.Join(errs...)
}

// describeObject prints the kubectl-describe-like layout of obj.
// extra, when not nil, prints kind-specific sections before the events.
func describeObject(w io.Writer, now time.Time, res client.Resource, obj client.Object, extra func(io.Writer)) {
	tw := newTabWriter(w)
	field := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
	field("Name", obj.Name())
	if res.Namespaced {
		field("Namespace", obj.Namespace())
	}
	field("Kind", obj.Kind()+" ("+obj.APIVersion()+")")
	pairs(tw, "Labels", obj.Labels())
	pairs(tw, "Annotations", obj.Annotations())
	field("Created", describeTime(obj.String("metadata", "creationTimestamp"), now))
	if ts := obj.String("metadata", "deletionTimestamp"); ts != "" {
		field("Deleting since", describeTime(ts, now))
	}
	field("Owner References", ownerRefs(obj))
	field("Finalizers", listOrNone(obj.Slice("metadata", "finalizers")))
	field("Generation", generation(obj))
	field("Resource Version", obj.ResourceVersion())
	tw.Flush()
	if obj.Kind() == "Secret" {
		describeSecret(w, obj)
	} else {
		describeBody(w, obj, now)
	}
	if extra != nil {
		extra(w)
	}
	fmt.Fprintln(w, "Events:  <none>")
}

func pairs(w io.Writer, title string, m map[string]string) {
	if len(m) == 0 {
		fmt.Fprintf(w, "%s:\t<none>\n", title)
		return
	}
	for i, k := range sortedKeys(m) {
		if i == 0 {
			fmt.Fprintf(w, "%s:\t%s=%s\n", title, k, m[k])
		} else {
			fmt.Fprintf(w, "\t%s=%s\n", k, m[k])
		}
	}
}

func describeTime(ts string, now time.Time) string {
	t, err := time.Parse(time.RFC3339, ts)
	if err != nil {
		return "<unknown>"
	}
	return fmt.Sprintf("%s (%s ago)", t.UTC().Format(time.RFC3339), age(now, t))
}

func ownerRefs(obj client.Object) string {
	refs := obj.Slice("metadata", "ownerReferences")
	if len(refs) == 0 {
		return "<none>"
	}
	var out []string
	for _, r := range refs {
		ref := client.Object(asMap(r))
		s := ref.Kind() + "/" + ref.String("name")
		if c, _ := ref["controller"].(bool); c {
			s += " (controller)"
		}
		out = append(out, s)
	}
	return strings.Join(out, ", ")
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func listOrNone(items []any) string {
	if len(items) == 0 {
		return "<none>"
	}
	s := make([]string, len(items))
	for i, it := range items {
		s[i] = fmt.Sprint(it)
	}
	return strings.Join(s, ", ")
}

func generation(obj client.Object) string {
	g := obj.Int("metadata", "generation")
	observed, ok := obj.Get("status", "observedGeneration").(float64)
	if !ok {
		return fmt.Sprint(g)
	}
	s := fmt.Sprintf("%d (observed: %d)", g, int64(observed))
	if int64(observed) < g {
		s += ", status is behind the spec"
	}
	return s
}

// describeBody prints the spec and other fields as indented YAML and the
// status with its conditions as a table.
func describeBody(w io.Writer, obj client.Object, now time.Time) {
	for _, k := range sortedKeys(obj) {
		switch k {
		case "apiVersion", "kind", "metadata", "status":
			continue
		}
		section(w, titleCase(k), obj[k])
	}
	status := obj.Map("status")
	if len(status) == 0 {
		fmt.Fprintln(w, "Status:  <none>")
		return
	}
	rest := map[string]any{}
	for k, v := range status {
		if k != "conditions" && k != "observedGeneration" {
			rest[k] = v
		}
	}
	fmt.Fprintln(w, "Status:")
	if len(rest) > 0 {
		writeIndentedYAML(w, rest, "  ")
	}
	conditions(w, obj.Slice("status", "conditions"), now)
}

func section(w io.Writer, title string, v any) {
	switch v.(type) {
	case map[string]any, []any:
		fmt.Fprintf(w, "%s:\n", title)
		writeIndentedYAML(w, v, "  ")
	default:
		fmt.Fprintf(w, "%s:  %v\n", title, v)
	}
}

func titleCase(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func writeIndentedYAML(w io.Writer, v any, indent string) {
	data, err := yaml.Marshal(v)
	if err != nil {
		fmt.Fprintf(w, "%s<%v>\n", indent, err)
		return
	}
	for _, line := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		fmt.Fprintf(w, "%s%s\n", indent, line)
	}
}

// conditions prints status conditions as TYPE STATUS REASON AGE MESSAGE.
func conditions(w io.Writer, conds []any, now time.Time) {
	if len(conds) == 0 {
		fmt.Fprintln(w, "  Conditions:  <none>")
		return
	}
	fmt.Fprintln(w, "  Conditions:")
	tw := newTabWriter(w)
	fmt.Fprintln(tw, "    TYPE\tSTATUS\tREASON\tAGE\tMESSAGE")
	for _, c := range conds {
		cond := client.Object(asMap(c))
		fmt.Fprintf(tw, "    %s\t%s\t%s\t%s\t%s\n", cond.String("type"), cond.String("status"),
			cond.String("reason"), formatDate(cond.String("lastTransitionTime"), now), cond.String("message"))
	}
	tw.Flush()
}

// describeSecret shows a Secret's type and keys, never its values.
func describeSecret(w io.Writer, obj client.Object) {
	fmt.Fprintf(w, "Type:  %s\n", obj.String("type"))
	data := obj.Map("data")
	if len(data) == 0 {
		fmt.Fprintln(w, "Data:  <none>")
		return
	}
	fmt.Fprintln(w, "Data (values are not shown):")
	for _, k := range sortedKeys(data) {
		fmt.Fprintf(w, "  %s\n", k)
	}
}
