package bench

import (
	"fmt"
	"strings"
	"time"
)

// SoakVerdict says whether the server stayed healthy.
type SoakVerdict struct {
	Pass   bool    `json:"pass"`
	Checks []Check `json:"checks"`
}

// Check is one verdict item: pass, fail, or n/a when the run was too short
// to judge it.
type Check struct {
	Name   string `json:"name"`
	Status string `json:"status"`
	Detail string `json:"detail"`
}

// Check statuses.
const (
	CheckPass = "pass"
	CheckFail = "fail"
	CheckNA   = "n/a"
)

// The fewest samples a latency quarter is judged on: fewer, and its p99
// is one outlier (the API is probed twice a second).
const (
	minAPISamples   = 100
	minBuildSamples = 50
)

// fdSlack is how many more descriptors the idle server may hold at the end.
const fdSlack = 16

func verdict(r *SoakReport, l SoakLimits) SoakVerdict {
	checks := []Check{
		outcomeCheck("builds succeeded", r.Achieved.Builds, r.Achieved.Aborted),
		outcomeCheck("build groups succeeded", r.Achieved.Groups, ""),
		outcomeCheck("snapshots tested and passed", r.Achieved.Snapshots, ""),
		outcomeCheck("releases succeeded", r.Achieved.Releases, ""),
		stuckCheck(r.Achieved),
		apiCheck(r.Achieved),
		memoryCheck(r.Memory, l),
	}
	for _, t := range r.Latency {
		slack, least := l.APISlack, minAPISamples
		if strings.HasPrefix(t.Name, "build") {
			slack, least = l.BuildSlack, minBuildSamples
		}
		checks = append(checks, latencyCheck(t, l.LatencyGrowth, slack, least))
	}
	checks = append(checks, idleCheck(r.Achieved), workCheck(r.Storage, l), accountedCheck(r.Storage, l))
	v := SoakVerdict{Pass: true, Checks: checks}
	for _, c := range checks {
		if c.Status == CheckFail {
			v.Pass = false
		}
	}
	return v
}

func outcomeCheck(name string, o Outcomes, aborted string) Check {
	c := Check{Name: name, Status: CheckPass, Detail: fmt.Sprintf("%d of %d", o.Succeeded, o.Created)}
	if aborted != "" {
		return Check{Name: name, Status: CheckFail, Detail: "the soak stopped early: " + aborted}
	}
	if o.Failed > 0 {
		c.Status, c.Detail = CheckFail, fmt.Sprintf("%d of %d failed: %s", o.Failed, o.Created, strings.Join(o.Failures, "; "))
	}
	if o.Created == 0 {
		c.Status, c.Detail = CheckNA, "none"
	}
	return c
}

func stuckCheck(a SoakAchieved) Check {
	var stuck []string
	for _, o := range []Outcomes{a.Builds, a.Groups, a.Tests, a.Releases} {
		stuck = append(stuck, o.Stuck...)
	}
	if len(stuck) == 0 && (a.Drained || a.Aborted != "") {
		return Check{Name: "nothing stuck", Status: CheckPass, Detail: fmt.Sprintf("all finished %.0f s after the last commit", a.DrainSeconds)}
	}
	return Check{Name: "nothing stuck", Status: CheckFail,
		Detail: fmt.Sprintf("unfinished %.0f s after the last commit: %s", a.DrainSeconds, strings.Join(stuck, "; "))}
}

func apiCheck(a SoakAchieved) Check {
	if a.APIErrors == 0 {
		return Check{Name: "API answered", Status: CheckPass, Detail: "no failed request"}
	}
	return Check{Name: "API answered", Status: CheckFail, Detail: fmt.Sprintf("%d failed requests; the last: %s", a.APIErrors, a.LastAPIError)}
}

func memoryCheck(m MemoryTrend, l SoakLimits) Check {
	c := Check{Name: "memory flat", Detail: fmt.Sprintf("RSS %+.2f MiB per 1,000 builds over builds %d–%d (%d points; limit %.1f; "+
		"last half %+.2f; live heap %+.2f); idle %.0f → %.0f MiB, peak %.0f MiB",
		m.SlopeMiBPer1000, m.FromBuilds, m.ToBuilds, m.Points, l.RSSSlope, m.LastHalfSlope, m.HeapSlope, m.StartMiB, m.EndMiB, m.PeakMiB)}
	switch {
	case !m.Judged:
		c.Status = CheckNA
		c.Detail = fmt.Sprintf("too short to fit a slope (%d points, builds %d–%d; needs 6 points and 200 builds); idle %.0f → %.0f MiB",
			m.Points, m.FromBuilds, m.ToBuilds, m.StartMiB, m.EndMiB)
	case m.SlopeMiBPer1000 <= l.RSSSlope:
		c.Status = CheckPass
	default:
		c.Status = CheckFail
	}
	return c
}

func latencyCheck(t LatencyTrend, growth float64, slack time.Duration, least int) Check {
	c := Check{Name: "latency flat: " + t.Name, Detail: fmt.Sprintf("p99 %.1f → %.1f ms (×%.2f; limit ×%.1f or +%s), p50 %.1f → %.1f ms",
		t.First.P99, t.Last.P99, t.Growth, growth, slack, t.First.P50, t.Last.P50)}
	switch {
	case t.First.N < least || t.Last.N < least:
		c.Status = CheckNA
		c.Detail = fmt.Sprintf("too few samples (%d and %d; needs %d per quarter)", t.First.N, t.Last.N, least)
	case t.Last.P99 <= t.First.P99*growth || t.Last.P99-t.First.P99 <= float64(slack.Microseconds())/1000:
		c.Status = CheckPass
	default:
		c.Status = CheckFail
	}
	return c
}

// idleCheck compares the idle server before and after: no child process
// left, no zombie, no descriptors leaked.
func idleCheck(a SoakAchieved) Check {
	s, e := a.IdleStart, a.IdleEnd
	c := Check{Name: "idle server clean", Status: CheckPass,
		Detail: fmt.Sprintf("fds %d → %d, threads %d → %d, child processes %d → %d", s.FDs, e.FDs, s.Threads, e.Threads, s.Children, e.Children)}
	if e.Children > s.Children || e.Zombies > 0 || e.FDs > s.FDs+fdSlack {
		c.Status = CheckFail
	}
	return c
}

func workCheck(stores []StoreGrowth, l SoakLimits) Check {
	for _, g := range stores {
		if g.Store != "work" {
			continue
		}
		c := Check{Name: "work directory empty when idle", Status: CheckPass,
			Detail: fmt.Sprintf("%d files, %s (limit %s)", g.End.Files, mib(g.End.Bytes), mib(l.WorkDirBytes))}
		if g.End.Bytes > l.WorkDirBytes {
			c.Status = CheckFail
		}
		return c
	}
	return Check{Name: "work directory empty when idle", Status: CheckPass, Detail: "no work directory"}
}

// accountedCheck: the data directory grows only in its named stores.
func accountedCheck(stores []StoreGrowth, l SoakLimits) Check {
	var total, other int64
	for _, g := range stores {
		d := g.End.Bytes - g.Start.Bytes
		total += max(d, 0)
		if g.Store == "other" {
			other = d
		}
	}
	c := Check{Name: "storage growth accounted for", Status: CheckPass,
		Detail: fmt.Sprintf("%s of %s grew outside the named stores (limit %.0f%%)", mib(other), mib(total), l.Unaccounted*100)}
	if other > 64<<10 && float64(other) > l.Unaccounted*float64(total) {
		c.Status = CheckFail
	}
	return c
}

func mib(b int64) string { return fmt.Sprintf("%.2f MiB", float64(b)/(1<<20)) }
