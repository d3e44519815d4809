package graph

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// This file holds the offline side of the `kiln graph` command: planning
// graphs read from files, generating and converting them. The functions
// above stay pure; only these read files and print.

// FilePlanOptions are the flags of `kiln graph plan --edges`.
type FilePlanOptions struct {
	// Edges and Durations are file paths; Durations may be empty (every
	// package takes 1 s).
	Edges, Durations string
	// Changed, Workers: as Plan's.
	Changed []string
	Workers int
	// Output is "table" or "json".
	Output string
}

// filePlanOutput is the JSON of `kiln graph plan`: the plan summary plus
// the time spent reading the files.
type filePlanOutput struct {
	*PlanResult
	ReadMillis float64 `json:"readMillis"`
}

// PlanFiles reads a graph (and durations) from files, plans it and prints
// the result to w: `kiln graph plan --edges`.
func PlanFiles(w io.Writer, o FilePlanOptions) error {
	if o.Output != "table" && o.Output != "json" {
		return fmt.Errorf("unknown output format %q: use table or json", o.Output)
	}
	if o.Workers < 0 {
		return fmt.Errorf("--workers must be 0 (no simulation) or more, got %d", o.Workers)
	}
	start := time.Now()
	g, durations, err := readGraphFiles(o.Edges, o.Durations)
	if err != nil {
		return err
	}
	read := time.Since(start)
	res, err := Plan(g, o.Changed, durations, o.Workers)
	if err != nil {
		return fmt.Errorf("--changed: %w", err)
	}
	out := filePlanOutput{PlanResult: res, ReadMillis: float64(read.Microseconds()) / 1000}
	if o.Output == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	printPlanTable(w, out)
	return nil
}

func readGraphFiles(edgesPath, durationsPath string) (*Graph, map[string]float64, error) {
	g, err := parseFile(edgesPath, ParseEdges)
	if err != nil {
		return nil, nil, err
	}
	if durationsPath == "" {
		return g, nil, nil
	}
	d, err := parseFile(durationsPath, ParseDurations)
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

func printPlanTable(w io.Writer, o filePlanOutput) {
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

func printCycles(w io.Writer, cycles []Cycle) {
	const shown = 20
	for i, c := range cycles {
		if i == shown {
			fmt.Fprintf(w, "  … and %d more (-o json lists all)\n", len(cycles)-shown)
			return
		}
		fmt.Fprintf(w, "  cycle of %d: %s\n", c.Size, strings.Join(c.Path, " -> "))
	}
}

// NewGenerateCommand returns `kiln graph generate`.
func NewGenerateCommand() *cobra.Command {
	o := GenerateOptions{Nodes: 30000, Edges: 210000, Cycle: 4000, Levels: 25, Seed: 1}
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
			g, err := Generate(o)
			if err != nil {
				return err
			}
			return WriteEdges(cmd.OutOrStdout(), g)
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

// NewFromDebianCommand returns `kiln graph from-debian`.
func NewFromDebianCommand() *cobra.Command {
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
	g, st, err := FromDebian(readers...)
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
	return WriteEdges(stdout, g)
}
