package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// This file holds the `kiln bench` command and its subcommands.

// NewCommand returns `kiln bench` with its api, build and soak subcommands.
func NewCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "bench", Short: "Measure Kiln on this machine (see docs/benchmarks.md)"}
	cmd.AddCommand(newBenchAPICommand(), newBenchBuildCommand(), newBenchSoakCommand(), NewTraceCommand(), newBenchReplicasCommand())
	return cmd
}

func newBenchBuildCommand() *cobra.Command {
	var o BuildOptions
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "build",
		Short: "Time commit → artifact pushed for a trivial component, with a breakdown",
		Long: `Starts an in-process factory, creates a git repository and a component whose
pipeline is one script step, then --builds times commits a change, creates its
build and waits until the artifact is pushed. Prints the median and p90 and the
median of each phase (source: fetch + checkout; plan: load, compile, cache key;
steps: the sandboxed steps; package+push: tar, gzip and upload; sign+attest: provenance, SBOM, signing and pushing the evidence).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Log = os.Stderr
			rep, err := RunBuild(cmd.Context(), o)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd, rep)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "%d builds: commit → artifact median %.0f ms, p90 %.0f ms\n", rep.Builds, rep.Median, rep.P90)
			fmt.Fprintf(w, "  commit, queue, status %6.1f ms\n", rep.Overhead)
			for _, k := range []string{"source", "plan", "steps", "package+push", "sign+attest"} {
				fmt.Fprintf(w, "  %-20s %6.1f ms\n", k, rep.Phases[k])
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&o.Builds, "builds", 20, "builds to time")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newBenchAPICommand() *cobra.Command {
	var o APIOptions
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "api",
		Short: "Load a fresh `kiln up` process with Components and measure the API",
		Long: `Starts a separate kiln up process in a temporary data directory, creates
--namespaces namespaces and --objects Components with --writers concurrent
writers over HTTPS, then measures get, 500-item list pages, a 1% label
selector list across all namespaces, watch delivery, status updates per
second, memory (RSS, and the peak after each phase) and the time from restart
to the first successful list. --client-go adds the 1% label-selector list
through client-go (dynamic and REST clients), all items in one response.`,
		Example: `  kiln bench api --objects 100000
  kiln bench api --database postgres://kiln@127.0.0.1:5432/bench?sslmode=disable`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Log = os.Stderr
			rep, err := RunAPI(cmd.Context(), o)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd, rep)
			}
			printAPIReport(cmd, rep)
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Objects, "objects", 100000, "Components to create")
	f.IntVar(&o.Namespaces, "namespaces", 100, "namespaces to spread them over")
	f.IntVar(&o.Writers, "writers", 8, "concurrent writers")
	f.IntVar(&o.Samples, "samples", 500, "samples per latency figure")
	f.StringVar(&o.Database, "database", "", "postgres:// URL (default: SQLite in the temp data dir)")
	f.BoolVar(&o.ClientGo, "client-go", false, "also time the 1% label-selector list through client-go (dynamic and REST clients, one response)")
	f.StringArrayVar(&o.ServerArgs, "server-arg", nil, "extra `kiln up` flag (repeatable), e.g. --server-arg=--pprof-listen=127.0.0.1:6060")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newBenchSoakCommand() *cobra.Command {
	var o SoakOptions
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "soak",
		Short: "Drive builds for a long time against a `kiln up` process; check memory, latency and storage stay flat",
		Long: `Starts a separate kiln up process (--allow-file-sources) on a fresh data
directory and creates --components components in git repositories: a dependency
graph (libraries, components requiring them, leaves; some pass changes on, others
stop the cascade) and --released of them in an application that is
integration-tested and auto-released. Then it commits and creates builds so that
--builds builds happen in --duration, never more than --max-backlog unfinished. Every --interval it records
the server's RSS, open files, threads and children, API latency (a list page and
a get), build latency (commit → Succeeded), the queue, and the size of every
store (database, registry, logs, evidence, git mirrors, work directory). At the
end it prints a table per interval, each store's growth per build, and a
verdict: memory flat, latency flat, nothing failed or stuck, storage accounted
for. It exits non-zero when the verdict fails. See docs/reliability.md.`,
		Example: `  kiln bench soak                                   # 10,000 builds over an hour
  kiln bench soak --duration 10m --builds 1700
  kiln bench soak --builds 60 --duration 1m --interval 10s
  kiln bench soak --database postgres://kiln@127.0.0.1:5432/soak?sslmode=disable --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Log = os.Stderr
			rep, err := RunSoak(cmd.Context(), o)
			if err != nil {
				return err
			}
			if asJSON {
				if err := printJSON(cmd, rep); err != nil {
					return err
				}
			} else {
				rep.WriteText(cmd.OutOrStdout())
			}
			return soakVerdict(rep)
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Builds, "builds", 10000, "builds to reach (the driver aims at builds/duration)")
	f.DurationVar(&o.Duration, "duration", time.Hour, "how long to drive builds")
	f.DurationVar(&o.Interval, "interval", time.Minute, "how often to sample the server")
	f.IntVar(&o.Components, "components", 20, "components to create")
	f.IntVar(&o.Released, "released", 2, "of those, components in an application tested and auto-released (0: none)")
	f.IntVar(&o.MaxBacklog, "max-backlog", 0, "unfinished builds at which the driver waits (default 4 per core)")
	f.DurationVar(&o.Drain, "drain", 5*time.Minute, "how long to wait for unfinished work after the last commit")
	f.StringVar(&o.Database, "database", "", "an empty postgres:// database (default: SQLite in the data directory)")
	f.StringVar(&o.Dir, "dir", "", "keep the data directory and repositories here (default: a temporary directory, removed)")
	f.Float64Var(&o.Limits.RSSSlope, "max-rss-slope", 5, "largest RSS growth, MiB per 1,000 builds, over the last 3/4 of the run")
	f.Float64Var(&o.Limits.LatencyGrowth, "max-latency-growth", 2, "largest p99 growth, last quarter over first quarter")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// soakVerdict is an error naming the failed checks, if any.
func soakVerdict(r *SoakReport) error {
	if r.Verdict.Pass {
		return nil
	}
	var failed []string
	for _, c := range r.Verdict.Checks {
		if c.Status == CheckFail {
			failed = append(failed, c.Name)
		}
	}
	return fmt.Errorf("soak failed: %s", strings.Join(failed, ", "))
}

func printAPIReport(cmd *cobra.Command, r *APIReport) {
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "backend %s, %d components in %d namespaces, %d writers\n", r.Backend, r.Objects, r.Namespaces, r.Writers)
	fmt.Fprintf(w, "  creates/s                 %8.0f\n", r.CreatesPerSec)
	fmt.Fprintf(w, "  get              p50/p99  %6.2f / %6.2f ms\n", r.Get.P50, r.Get.P99)
	fmt.Fprintf(w, "  list page (500)  p50/p99  %6.2f / %6.2f ms\n", r.ListPage500.P50, r.ListPage500.P99)
	fmt.Fprintf(w, "  1%% label select  p50/p99  %6.2f / %6.2f ms\n", r.LabelSelector1.P50, r.LabelSelector1.P99)
	fmt.Fprintf(w, "  watch delivery   p50/p99  %6.2f / %6.2f ms\n", r.WatchDelivery.P50, r.WatchDelivery.P99)
	fmt.Fprintf(w, "  status updates/s          %8.0f\n", r.StatusUpdatesSec)
	fmt.Fprintf(w, "  memory RSS / peak         %6.0f / %6.0f MiB\n", r.RSSMiB, r.PeakRSSMiB)
	fmt.Fprintf(w, "  restart → first list      %8.0f ms\n", r.RestartToListMs)
	if c := r.ClientGo; c != nil {
		fmt.Fprintf(w, "  client-go 1%% list (%d items, one response)\n", c.Items)
		fmt.Fprintf(w, "    dynamic List   p50/p99  %6.2f / %6.2f ms\n", c.Dynamic.P50, c.Dynamic.P99)
		fmt.Fprintf(w, "    REST DoRaw     p50/p99  %6.2f / %6.2f ms\n", c.Raw.P50, c.Raw.P99)
	}
	for _, ph := range []string{"creates", "list pages", "label selector", "client-go list", "watch", "status updates"} {
		if v, ok := r.PhasePeakRSSMiB[ph]; ok {
			fmt.Fprintf(w, "  peak RSS after %-15s %6.0f MiB\n", ph, v)
		}
	}
}

func printJSON(cmd *cobra.Command, v any) error {
	enc := json.NewEncoder(cmd.OutOrStdout())
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newBenchReplicasCommand() *cobra.Command {
	var o ReplicasOptions
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "replicas",
		Short: "Measure kiln up replicas on one PostgreSQL database with a no-op executor",
		Long: `Starts kiln up replicas (separate processes) on a fresh PostgreSQL database each
time, with the no-op executor: builds run nothing, so what is measured is the
control plane. For each --replicas count: the start latency of one build at a
time (created → seen Running by a watch), then --builds builds created at once
by 8 writers over the replicas: builds per second and start latency
percentiles. --takeover: 200 one-minute builds on two replicas, the follower
killed with SIGKILL: seconds until its builds are re-queued and running again.
--concurrent N: N builds held for --hold at once on one replica: CPU seconds of
kiln and PostgreSQL per build. Without --database a throw-away PostgreSQL
cluster is started (fsync off). See docs/scale.md.`,
		Example: `  kiln bench replicas --replicas 1,2,3 --builds 2000 --takeover
  kiln bench replicas --replicas 1 --builds 200 --concurrent 10000 --hold 2m`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Log = os.Stderr
			rep, err := RunReplicas(cmd.Context(), o)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd, rep)
			}
			printReplicasReport(cmd, rep)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Database, "database", "", "PostgreSQL server URL whose role may create databases (default: a throw-away cluster)")
	f.IntSliceVar(&o.Replicas, "replicas", []int{1, 2, 3}, "replica counts to measure")
	f.IntVar(&o.Builds, "builds", 2000, "builds per dispatch run")
	f.IntVar(&o.Concurrent, "concurrent", 0, "also run this many builds at once on one replica and measure CPU per build")
	f.DurationVar(&o.Hold, "hold", 2*time.Minute, "how long each of the --concurrent builds runs")
	f.BoolVar(&o.Takeover, "takeover", false, "also measure the takeover of a killed replica's builds")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func printReplicasReport(cmd *cobra.Command, rep *ReplicasReport) {
	w := cmd.OutOrStdout()
	fmt.Fprintln(w, "replicas  builds  builds/s  start p50  p90  p99 (ms)  idle start p50 (ms)")
	for _, d := range rep.Dispatch {
		fmt.Fprintf(w, "%8d  %6d  %8.1f  %9.0f  %4.0f  %4.0f  %19.0f\n", d.Replicas, d.Builds, d.PerSecond, d.StartP50, d.StartP90, d.StartP99, d.IdleStartP50)
	}
	if t := rep.Takeover; t != nil {
		fmt.Fprintf(w, "takeover: %d builds of the killed replica re-queued after %.1f s, all running again after %.1f s\n", t.Builds, t.RequeuedAfter, t.RunningAfter)
	}
	if c := rep.Concurrent; c != nil {
		fmt.Fprintf(w, "concurrent: %d builds (peak %d running) in %.0f s: kiln %.1f s + PostgreSQL %.1f s CPU = %.2f ms CPU per build\n",
			c.Builds, c.PeakRunning, c.WallSeconds, c.KilnCPU, c.PostgresCPU, c.PerBuildMS)
	}
}
