package bench

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// NewTraceCommand is `kiln bench trace`.
func NewTraceCommand() *cobra.Command {
	var o TraceOptions
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "trace",
		Short: "Generate a trace index of 100,000 builds and 1,000,000 edges and time traces",
		Long: `Writes a generated lineage (per namespace: components in 8 layers, each
depending on 1–3 of lower layers with Zipf-popular libraries; builds in rounds,
each taking its dependencies' latest artifacts as inputs; SBOM packages from a
pool of 2,000 modules × 40 versions; every tenth build snapshotted, released and
published) directly into the trace index of a fresh database, then times
traces as the API runs them (trace.Engine, all namespaces readable):
  up from a leaf artifact with a deep history (an application of the top
  layer built in the last tenth of its namespace's history);
  down from a popular library commit (one of the five most depended-upon
  libraries, thousands of dependants);
  down from a purl range.
Each trace is bounded by --limit nodes (and --depth levels). See
docs/benchmarks.md and docs/trace.md.`,
		Example: `  kiln bench trace
  kiln bench trace --database postgres://kiln@127.0.0.1:5432/bench?sslmode=disable --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Log = os.Stderr
			rep, err := RunTrace(cmd.Context(), o)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			}
			fmt.Fprintf(w, "%s: %d builds, %d nodes, %d edges (loaded in %.0f s); --limit %d --depth %d\n",
				rep.Backend, rep.Builds, rep.Stats.Nodes, rep.Stats.Edges, rep.LoadSeconds, rep.Limit, rep.Depth)
			for _, s := range rep.Starts {
				fmt.Fprintf(w, "  %-5s %-30s p50 %6.1f ms  p99 %6.1f ms  max %6.1f ms  (%d traces, %.0f nodes each, %.0f%% truncated)\n",
					s.Direction, s.Name, s.Latency.P50, s.Latency.P99, s.Latency.Max, s.Latency.N, s.MeanNodes, 100*s.Truncated)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Builds, "builds", 100000, "builds to generate")
	f.IntVar(&o.Edges, "edges", 1000000, "edges to generate (approximate)")
	f.IntVar(&o.Namespaces, "namespaces", 10, "namespaces to spread the builds over")
	f.IntVar(&o.Samples, "samples", 500, "traces timed per starting point")
	f.IntVar(&o.Limit, "limit", 1000, "nodes per trace at most")
	f.IntVar(&o.Depth, "depth", 0, "levels per trace at most (0: no bound)")
	f.Uint64Var(&o.Seed, "seed", 1, "generator seed")
	f.StringVar(&o.Database, "database", "", "postgres:// URL (default: SQLite in a temp dir)")
	f.BoolVar(&o.Reuse, "reuse", false, "reuse the index an earlier run with the same options wrote to --database (skip writing)")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
