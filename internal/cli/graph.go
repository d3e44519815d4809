package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/buildgroup"
	"github.com/kilnbuild/kiln/internal/client"
	"github.com/kilnbuild/kiln/internal/graph"
)

func newGraphCommand(g *globals) *cobra.Command {
	var app, output string
	cmd := &cobra.Command{
		Use:   "graph [--app A] [-o table|json|dot]",
		Short: "Show the live dependency graph of a namespace's components (subcommands plan offline graphs)",
		Long: "Without a subcommand, graph resolves what each component provides and requires\n" +
			"(detected in its source plus spec.build.provides/requires) into dependencies and\n" +
			"prints them, with cycles and unresolvable requirements. See docs/graph.md.",
		Example: "  kiln graph --app greet\n  kiln graph -o dot | dot -Tsvg > graph.svg\n  kiln graph plan --app greet --changed libgreet",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			res, err := liveGraph(cmd, g, app)
			if err != nil {
				return err
			}
			return printGraph(cmd.OutOrStdout(), res, output)
		},
	}
	cmd.Flags().StringVar(&app, "app", "", "only this application's components")
	cmd.Flags().StringVarP(&output, "output", "o", "table", "table, json or dot")
	cmd.AddCommand(newGraphPlanCommand(g), graph.NewGenerateCommand(), graph.NewFromDebianCommand())
	return cmd
}

// planOptions are the flags of `kiln graph plan`.
type planOptions struct {
	Edges, Durations, Output, App string
	Changed                       []string
	Workers                       int
}

func newGraphPlanCommand(g *globals) *cobra.Command {
	var o planOptions
	cmd := &cobra.Command{
		Use:   "plan (--edges FILE | --app A) [--durations FILE] [--changed NAME …] [--workers N] [-o json|table]",
		Short: "What a change rebuilds: against the live system, or offline on any graph",
		Long: `Offline (--edges): reads a graph of lines "dependent<TAB>dependency" and prints
its size, its cycles (strongly connected components with more than one member,
each with a concrete cycle a -> b -> a), its depth (levels with cycles
collapsed), the rebuild set of --changed (the changed packages and everything
depending on them) and, with --workers, a simulated schedule of that set (the
whole graph without --changed): makespan, lower bound and the level-by-level
makespan. Durations are "name<TAB>seconds" lines; packages not listed take 1 s.

Live (no --edges; --app to limit it to one application): what a change to the
--changed components would rebuild in this namespace, in which order.`,
		Example: `  kiln graph generate --nodes 30000 --edges 210000 --cycle 4000 --levels 25 --seed 1 > big.tsv
  kiln graph plan --edges big.tsv --changed pkg00042 --workers 256 -o json
  kiln graph plan --app greet --changed libgreet`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Edges == "" {
				return runLivePlan(cmd, g, o.App, o.Changed, o.Output)
			}
			if o.App != "" {
				return fmt.Errorf("use --edges FILE (offline) or --app A (live), not both")
			}
			return graph.PlanFiles(cmd.OutOrStdout(), graph.FilePlanOptions{Edges: o.Edges, Durations: o.Durations,
				Changed: o.Changed, Workers: o.Workers, Output: o.Output})
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Edges, "edges", "", "edges file: dependent<TAB>dependency per line (offline)")
	f.StringVar(&o.Durations, "durations", "", "durations file: name<TAB>seconds per line (default 1 s each)")
	f.StringSliceVar(&o.Changed, "changed", nil, "changed component or package (repeat or comma-separate); offline default: everything")
	f.IntVar(&o.Workers, "workers", 0, "simulate the schedule on this many workers (offline; 0: no simulation)")
	f.StringVar(&o.App, "app", "", "plan live for this application's components")
	f.StringVarP(&o.Output, "output", "o", "table", "output format: table or json")
	return cmd
}

// liveGraph lists the components and resolves their capabilities.
func liveGraph(cmd *cobra.Command, g *globals, app string) (*buildgroup.Resolved, error) {
	c, err := g.client(cmd)
	if err != nil {
		return nil, err
	}
	res, err := c.ResolveResource(cmd.Context(), "components")
	if err != nil {
		return nil, err
	}
	opts := client.ListOptions{}
	if app != "" {
		opts.FieldSelector = "spec.application=" + app
	}
	list, err := c.List(cmd.Context(), res, g.ns(), opts)
	if err != nil {
		return nil, err
	}
	var comps []*v1alpha1.Component
	for _, o := range list.Items {
		raw, _ := json.Marshal(o)
		var comp v1alpha1.Component
		if err := json.Unmarshal(raw, &comp); err != nil {
			return nil, fmt.Errorf("decoding component %s: %w", o.Name(), err)
		}
		comps = append(comps, &comp)
	}
	if len(comps) == 0 {
		return nil, fmt.Errorf("no components in namespace %q%s", g.ns(), map[bool]string{true: " for application " + app}[app != ""])
	}
	return buildgroup.GraphOf(comps, nil)
}

func printGraph(w io.Writer, r *buildgroup.Resolved, output string) error {
	names := make([]string, 0, len(r.Graph))
	for n := range r.Graph {
		names = append(names, n)
	}
	sort.Strings(names)
	switch output {
	case outJSON:
		return printJSON(w, r)
	case "dot":
		fmt.Fprintln(w, "digraph kiln {")
		for _, n := range names {
			fmt.Fprintf(w, "  %q;\n", n)
			for _, d := range r.Graph[n].Deps {
				fmt.Fprintf(w, "  %q -> %q;\n", n, d)
			}
		}
		fmt.Fprintln(w, "}")
		return nil
	case "table", "":
		tw := newTabWriter(w)
		fmt.Fprintln(tw, "COMPONENT\tREQUIRES\tREBUILD\tPROBLEMS")
		for _, n := range names {
			node := r.Graph[n]
			problems := ""
			if len(node.Missing) > 0 {
				problems = "unresolvable: nothing provides " + strings.Join(node.Missing, ", ")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", n, orDash(strings.Join(node.Deps, ",")), orDash(node.Rebuild), problems)
		}
		tw.Flush()
		if _, cycles, err := buildgroup.Plan(r.Graph, names); err == nil {
			for _, c := range cycles {
				fmt.Fprintf(w, "cycle: %s\n", c.Path)
			}
		}
		return nil
	}
	return fmt.Errorf("unknown output format %q: use table, json or dot", output)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// runLivePlan answers "what happens if these components change?" against
// the live system: the members a group would build, in order, with cycles.
func runLivePlan(cmd *cobra.Command, g *globals, app string, changed []string, output string) error {
	if len(changed) == 0 {
		return fmt.Errorf("--changed: name the component(s) that change")
	}
	r, err := liveGraph(cmd, g, app)
	if err != nil {
		return err
	}
	members, cycles, err := buildgroup.Plan(r.Graph, changed)
	if err != nil {
		return err
	}
	if output == outJSON {
		return printJSON(cmd.OutOrStdout(), map[string]any{"members": members, "cycles": cycles, "rebuildCount": len(members)})
	}
	tw := newTabWriter(cmd.OutOrStdout())
	fmt.Fprintln(tw, "ORDER\tCOMPONENT\tAFTER\tPRIORITY(s)\tNOTE")
	for i, m := range members {
		note := ""
		if m.State == v1alpha1.MemberUnresolvable {
			note = m.Message
		} else if m.Cycle > 0 {
			note = "cycle " + cycles[m.Cycle-1].Path
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%.0f\t%s\n", i+1, m.Component, orDash(strings.Join(m.DependsOn, ",")), m.Priority, note)
	}
	tw.Flush()
	fmt.Fprintf(cmd.OutOrStdout(), "%d components would be rebuilt (fewer if an output comes out identical)\n", len(members))
	return nil
}
