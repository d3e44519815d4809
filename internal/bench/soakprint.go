package bench

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// line is an interval in one line, for progress output.
func (iv SoakInterval) line() string {
	return fmt.Sprintf("%5.1f min: %d builds (%d failed), queue %d+%d, build p50/p99 %.0f/%.0f ms, list p99 %.1f ms, RSS %.0f MiB",
		iv.EndSeconds/60, iv.Finished, iv.Failed, iv.Queued, iv.Running, iv.Build.P50, iv.Build.P99, iv.List.P99, iv.RSSMiB)
}

// WriteText prints the report for people: the workload, the intervals,
// the storage accounting, the trends and the verdict.
func (r *SoakReport) WriteText(w io.Writer) {
	a := r.Achieved
	fmt.Fprintf(w, "Soak (%s), started %s\n", r.Backend, r.Started.Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(w, "Mix: %s.\n", r.Mix.Description)
	fmt.Fprintf(w, "Target: %d builds in %s (%.0f builds/h), at most %d unfinished builds.\n",
		r.Target.Builds, time.Duration(r.Target.DurationSeconds*float64(time.Second)), r.Target.BuildsPerHour, r.Target.MaxBacklog)
	fmt.Fprintf(w, "Achieved: %d commits (%s) → %d builds (%d direct, %d cascade; %d unchanged outputs, %d cache hits; %.2f per commit) "+
		"in %.1f min of driving: %.0f builds/h sustained (%.0f%% of the target); the backlog limit held the driver back %.0f s. "+
		"Drained in %.0f s; the server stopped in %.1f s.\n",
		a.Commits, levels(a.CommitsByLevel), a.Builds.Created, a.Direct, a.Cascade, a.Unchanged, a.Cached, a.BuildsPerCommit,
		a.DriveSeconds/60, a.BuildsPerHour, 100*a.BuildsPerHour/r.Target.BuildsPerHour, a.ThrottledSeconds, a.DrainSeconds, a.StopSeconds)
	fmt.Fprintf(w, "Also: %d build groups, %d snapshots (%d tested by the scenario), %d releases.\n",
		a.Groups.Created, a.Snapshots.Created, a.Tests.Created, a.Releases.Created)
	r.writeServerTable(w)
	r.writeStorageTable(w)
	r.writeGrowth(w)
	r.writeDatabase(w)
	r.writeTrends(w)
	fmt.Fprintln(w, "\nVerdict:")
	for _, c := range r.Verdict.Checks {
		fmt.Fprintf(w, "  %-4s %-45s %s\n", c.Status, c.Name, strings.ReplaceAll(c.Detail, "\n", " "))
	}
	if r.Verdict.Pass {
		fmt.Fprintln(w, "PASS")
	} else {
		fmt.Fprintln(w, "FAIL")
	}
}

func levels(m map[string]int) string {
	var parts []string
	for _, l := range []string{"lib", "mid", "app", "rel"} {
		if m[l] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", m[l], l))
		}
	}
	return strings.Join(parts, ", ")
}

func (r *SoakReport) writeServerTable(w io.Writer) {
	fmt.Fprintln(w, "\nServer, per interval (build: commit → Succeeded of the driver's builds finished in the interval; queue: "+
		"queued+running at its end; heap: live Go heap after the last GC; stk: goroutine stacks; kids: child processes; "+
		"CPU: the server's, % of one core and ms per build finished; load: the machine's 1-minute load average):")
	fmt.Fprintf(w, "%7s %6s %4s %6s %13s %13s %13s %6s %6s %5s %4s %4s %4s %4s %5s %6s %5s\n",
		"end min", "builds", "fail", "queue", "build p50/p99", "list p50/p99", "get p50/p99", "RSS", "HWM", "heap", "stk",
		"fds", "thr", "kids", "CPU%", "ms/b", "load")
	for _, iv := range r.Intervals {
		fmt.Fprintf(w, "%7.1f %6d %4d %6s %13s %13s %13s %6.0f %6.0f %5.0f %4.0f %4d %4d %4d %5.0f %6.1f %5.1f\n",
			iv.EndSeconds/60, iv.Finished, iv.Failed, fmt.Sprintf("%d+%d", iv.Queued, iv.Running),
			pair(iv.Build, "%.0f"), pair(iv.List, "%.1f"), pair(iv.Get, "%.1f"), iv.RSSMiB, iv.PeakMiB, iv.HeapMiB, iv.StacksMiB,
			iv.FDs, iv.Threads, iv.Children, iv.CPUPercent, iv.CPUPerBuildMs, iv.Load1)
	}
}

func pair(l Latency, f string) string {
	if l.N == 0 {
		return "-"
	}
	return fmt.Sprintf(f+"/"+f, l.P50, l.P99)
}

func (r *SoakReport) writeStorageTable(w io.Writer) {
	stores := []string{"database", "registry", "logs", "evidence", "git", "work", "repos"}
	fmt.Fprintln(w, "\nStorage at the end of each interval (MiB on disk; database rows: objects, events):")
	fmt.Fprintf(w, "%7s %7s", "end min", "builds")
	for _, s := range stores {
		fmt.Fprintf(w, " %9s", s)
	}
	fmt.Fprintf(w, " %8s %8s\n", "objects", "events")
	for _, iv := range r.Intervals {
		fmt.Fprintf(w, "%7.1f %7d", iv.EndSeconds/60, iv.TotalFinished)
		for _, s := range stores {
			fmt.Fprintf(w, " %9.2f", float64(iv.Disk[s])/(1<<20))
		}
		fmt.Fprintf(w, " %8d %8d\n", iv.DBObjects, iv.DBEvents)
	}
}

func (r *SoakReport) writeGrowth(w io.Writer) {
	builds := r.Achieved.Builds.Succeeded + r.Achieved.Builds.Failed
	fmt.Fprintf(w, "\nGrowth per build over %d builds (bytes on disk = blocks of the files and directories added; "+
		"mean file: their apparent size):\n", builds)
	fmt.Fprintf(w, "%-12s %10s %10s %12s %11s %10s %10s  %s\n", "store", "start MiB", "end MiB", "bytes/build", "files/build",
		"dirs/build", "mean file", "holds")
	for _, g := range r.Storage {
		fmt.Fprintf(w, "%-12s %10.2f %10.2f %12.0f %11.2f %10.2f %10.0f  %s\n", g.Store, float64(g.Start.Bytes)/(1<<20),
			float64(g.End.Bytes)/(1<<20), g.BytesPerBuild, g.FilesPerBuild, g.DirsPerBuild, g.AvgFileBytes, g.Holds)
	}
}

func (r *SoakReport) writeDatabase(w io.Writer) {
	d := r.Database
	fmt.Fprintf(w, "\nDatabase: %.2f → %.2f MiB (%.2f MiB free pages), %.0f bytes/build; its rows add %.0f bytes/build "+
		"(size/content ×%.2f: pages, keys, indexes); %d index rows added.\n",
		float64(d.SizeStart)/(1<<20), float64(d.SizeEnd)/(1<<20), float64(d.FreeEnd)/(1<<20), d.SizePerBuild, d.ContentPerBuild, d.Overhead, d.IndexRows)
	fmt.Fprintf(w, "%-8s %-24s %8s %11s %12s %10s\n", "table", "kind", "rows", "rows/build", "bytes/build", "mean row")
	for _, t := range []struct {
		name string
		rows []RowGrowth
	}{{"objects", d.Objects}, {"events", d.Events}} {
		for _, g := range t.rows {
			fmt.Fprintf(w, "%-8s %-24s %+8d %11.2f %12.0f %10.0f\n", t.name, g.Kind, g.Rows, g.RowsPerBuild, g.BytesPerBuild, g.AvgBytes)
		}
	}
	fmt.Fprintln(w, "Events are kept 15 minutes and at least the newest 10,000; older ones are compacted and their pages reused, "+
		"so in a run longer than that the events' share levels off.")
}

func (r *SoakReport) writeTrends(w io.Writer) {
	mt := r.Memory
	fmt.Fprintf(w, "\nMemory: RSS idle %.0f → %.0f MiB, peak %.0f MiB; per 1,000 builds over builds %d–%d: RSS %+.2f MiB "+
		"(last half alone %+.2f), live Go heap %+.2f MiB; live heap idle %.0f → %.0f MiB, goroutine stacks %.0f → %.0f MiB.\n",
		mt.StartMiB, mt.EndMiB, mt.PeakMiB, mt.FromBuilds, mt.ToBuilds, mt.SlopeMiBPer1000, mt.LastHalfSlope, mt.HeapSlope,
		mt.GCStart.HeapMiB, mt.GCEnd.HeapMiB, mt.GCStart.StacksMiB, mt.GCEnd.StacksMiB)
	fmt.Fprintf(w, "CPU per build, first quarter → last quarter: server %.1f → %.1f ms, its children (git, sandbox) %.1f → %.1f ms.\n",
		r.CPU.ServerFirstMs, r.CPU.ServerLastMs, r.CPU.ChildFirstMs, r.CPU.ChildLastMs)
	fmt.Fprintln(w, "Latency, first quarter vs last quarter of the drive (p50 / p99 ms, samples):")
	for _, t := range r.Latency {
		fmt.Fprintf(w, "  %-30s %8.1f / %8.1f (%d)  →  %8.1f / %8.1f (%d)\n", t.Name, t.First.P50, t.First.P99, t.First.N,
			t.Last.P50, t.Last.P99, t.Last.N)
	}
}
