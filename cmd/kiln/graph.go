package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kilnbuild/kiln/internal/cli"
	"github.com/kilnbuild/kiln/internal/graph"
)

// addGraphCommands puts the offline planner under the client's live
// `kiln graph` command.
func addGraphCommands(root *cobra.Command) {
	graphCmd, _, err := root.Find([]string{"graph"})
	if err != nil || graphCmd == root {
		graphCmd = &cobra.Command{Use: "graph", Short: "Plan builds over a package dependency graph (see docs/graph.md)"}
		root.AddCommand(graphCmd)
	}
	graphCmd.AddCommand(newGraphGenerateCommand(), newGraphFromDebianCommand())
	cli.OfflinePlan = func(w io.Writer, o cli.PlanOptions) error {
		return runGraphPlan(w, graphPlanOptions{edges: o.Edges, durations: o.Durations, output: o.Output, changed: o.Changed, workers: o.Workers})
	}
}

type graphPlanOptions struct {
	edges, durations, output string
	changed                  []string
	workers                  int
}

// graphPlanOutput is the JSON of `kiln graph plan`: the plan summary plus
// the time spent reading the files.
type graphPlanOutput struct {
	*graph.PlanResult
	ReadMillis float64 `json:"readMillis"`
}

func runGraphPlan(w io.Writer, o graphPlanOptions) error {
	if o.output != "table" && o.output != "json" {
		return fmt.Errorf("unknown output format %q: use table or json", o.output)
	}
	if o.workers < 0 {
		return fmt.Errorf("--workers must be 0 (no simulation) or more, got %d", o.workers)
	}
	start := time.Now()
	g, durations, err := readGraphFiles(o.edges, o.durations)
	if err != nil {
		return err
	}
	read := time.Since(start)
	res, err := graph.Plan(g, o.changed, durations, o.workers)
	if err != nil {
		return fmt.Errorf("--changed: %w", err)
	}
	out := graphPlanOutput{PlanResult: res, ReadMillis: float64(read.Microseconds()) / 1000}
	if o.output == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	printPlanTable(w, out)
	return nil
}

func readGraphFiles(edgesPath, durationsPath string) (*graph.Graph, map[string]float64, error) {
	g, err := parseFile(edgesPath, graph.ParseEdges)
	if err != nil {
		return nil, nil, err
	}
	if durationsPath == "" {
		return g, nil, nil
	}
	d, err := parseFile(durationsPath, graph.ParseDurations)
	return g, d, err
}

func parseFile[T any](path string, parse func(io.Reader) (T, error)) (T, error) {
	var zero T
	f, err := os.Open(path)
	if err != nil {
		return zero, err
	}
	defer f.Close()
	v, err := parse(f)
	if err != nil {
		return zero, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

func printPlanTable(w io.Writer, o graphPlanOutput) {
	r := o.PlanResult
	fmt.Fprintf(w, "nodes          %d\nedges          %d\n", r.Nodes, r.Edges)
	fmt.Fprintf(w, "cycles         %d (largest: %d members)\ndepth          %d levels\n", r.Cycles, r.LargestCycle, r.Depth)
	if len(r.Changed) > 0 {
		fmt.Fprintf(w, "rebuild        %d nodes (changed: %s)\n", r.RebuildCount, strings.Join(r.Changed, ", "))
	}
	if s := r.Simulation; s != nil {
		fmt.Fprintf(w, "workers        %d\nmakespan       %.1f s (%.4f × lower bound)\n", s.Workers, s.Makespan, s.MakespanOverLowerBound)
		fmt.Fprintf(w, "lower bound    %.1f s (critical path %.1f s, work %.1f s / %d); release bound %.1f s\n",
			s.LowerBound, s.CriticalPath, s.TotalWork, s.Workers, s.ReleaseBound)
		fmt.Fprintf(w, "level barrier  %.1f s (%.2f × makespan)\n", s.LevelBarrier, s.GainOverLevelBarrier)
	}
	fmt.Fprintf(w, "time           plan %.3f ms, read %.1f ms", r.PlanMillis, o.ReadMillis)
	if s := r.Simulation; s != nil {
		fmt.Fprintf(w, ", simulate %.1f ms", s.SimulateMillis)
	}
	fmt.Fprintln(w)
	printCycles(w, r.CycleList)
}

func printCycles(w io.Writer, cycles []graph.Cycle) {
	const shown = 20
	for i, c := range cycles {
		if i == shown {
			fmt.Fprintf(w, "  … and %d more (-o json lists all)\n", len(cycles)-shown)
			return
		}
		fmt.Fprintf(w, "  cycle of %d: %s\n", c.Size, strings.Join(c.Path, " -> "))
	}
}

func newGraphGenerateCommand() *cobra.Command {
	o := graph.GenerateOptions{Nodes: 30000, Edges: 210000, Cycle: 4000, Levels: 25, Seed: 1}
	cmd := &cobra.Command{
		Use:   "generate [--nodes N] [--edges M] [--cycle K] [--levels L] [--seed S] > FILE",
		Short: "Write a synthetic distribution-shaped dependency graph",
		Long: `Writes "dependent<TAB>dependency" lines for a graph shaped like a Linux
distribution: a small core most packages depend on (power-law in-degree),
exactly --levels levels, a strongly connected cluster of exactly --cycle
members just above the core (a bootstrap loop) and a few small cycles.
The same options and seed always give the same file.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			g, err := graph.Generate(o)
			if err != nil {
				return err
			}
			return graph.WriteEdges(cmd.OutOrStdout(), g)
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Nodes, "nodes", o.Nodes, "packages")
	f.IntVar(&o.Edges, "edges", o.Edges, "dependency edges")
	f.IntVar(&o.Cycle, "cycle", o.Cycle, "members of the big strongly connected cluster (0: none)")
	f.IntVar(&o.Levels, "levels", o.Levels, "levels (depth with cycles collapsed)")
	f.Uint64Var(&o.Seed, "seed", o.Seed, "random seed")
	return cmd
}

func newGraphFromDebianCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "from-debian FILE... > edges.tsv",
		Short: "Convert Debian Packages files to a dependency graph",
		Long: `Reads Debian Packages files (plain or gzip; "-" is standard input) and writes
"dependent<TAB>dependency" lines from Depends and Pre-Depends: the first
alternative that resolves, versions and ":any" dropped, virtual packages
mapped to the provider with the smallest name.`,
		Example: `  lz4 -dc /var/lib/apt/lists/*bookworm_main_binary-amd64_Packages.lz4 | kiln graph from-debian - > debian.tsv`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runFromDebian(cmd.OutOrStdout(), cmd.ErrOrStderr(), args)
		},
	}
}

func runFromDebian(stdout, stderr io.Writer, paths []string) error {
	readers := make([]io.Reader, 0, len(paths))
	for _, p := range paths {
		if p == "-" {
			readers = append(readers, os.Stdin)
			continue
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		readers = append(readers, f)
	}
	g, st, err := graph.FromDebian(readers...)
	if err != nil {
		return err
	}
	linked := 0 // packages without any edge cannot appear in an edges file
	for v := range int32(g.N()) {
		if len(g.Deps(v)) > 0 || len(g.Dependents(v)) > 0 {
			linked++
		}
	}
	fmt.Fprintf(stderr, "%d stanzas, %d packages: %d with edges, %d edges (%d through Provides, %d unresolved dependencies dropped)\n",
		st.Packages, g.N(), linked, g.M(), st.Virtual, st.Unresolved)
	return graph.WriteEdges(stdout, g)
}
