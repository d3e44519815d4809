package bench

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/kilnbuild/kiln/internal/store/sqlstore"
)

// SoakReport is what RunSoak measured, and its verdict.
type SoakReport struct {
	Backend   string         `json:"backend"`
	Started   time.Time      `json:"started"`
	Mix       SoakMix        `json:"mix"`
	Target    SoakTarget     `json:"target"`
	Achieved  SoakAchieved   `json:"achieved"`
	Intervals []SoakInterval `json:"intervals"`
	Memory    MemoryTrend    `json:"memory"`
	Latency   []LatencyTrend `json:"latency"`
	CPU       WorkTrend      `json:"cpuPerBuild"`
	Storage   []StoreGrowth  `json:"storage"`
	Database  DatabaseGrowth `json:"database"`
	Verdict   SoakVerdict    `json:"verdict"`
}

// SoakMix is the workload: the components and what each commit causes.
type SoakMix struct {
	Components int            `json:"components"`
	Levels     map[string]int `json:"levels"`
	// Propagating counts the middle components whose output includes
	// their library's, so a library change flows on to their leaves.
	Propagating int `json:"propagating"`
	// ExpectedBuildsPerCommit is the mean cascade of a commit (its build
	// and its dependants' rebuilds) over the components.
	ExpectedBuildsPerCommit float64 `json:"expectedBuildsPerCommit"`
	TestedAndReleased       bool    `json:"testedAndReleased"`
	Description             string  `json:"description"`
}

// SoakTarget is what was asked.
type SoakTarget struct {
	Builds          int     `json:"builds"`
	DurationSeconds float64 `json:"durationSeconds"`
	BuildsPerHour   float64 `json:"buildsPerHour"`
	IntervalSeconds float64 `json:"intervalSeconds"`
	MaxBacklog      int     `json:"maxBacklog"`
}

// Outcomes counts objects of one kind created during the soak.
type Outcomes struct {
	Created    int      `json:"created"`
	Succeeded  int      `json:"succeeded"`
	Failed     int      `json:"failed"`
	Unfinished int      `json:"unfinished"`
	Failures   []string `json:"failures,omitempty"`
	Stuck      []string `json:"stuck,omitempty"`
}

// SoakAchieved is what happened.
type SoakAchieved struct {
	Commits        int            `json:"commits"`
	CommitsByLevel map[string]int `json:"commitsByLevel"`
	Builds         Outcomes       `json:"builds"`
	// Direct builds are the driver's; Cascade builds are dependants'
	// rebuilds the dependency brain started.
	Direct    int      `json:"direct"`
	Cascade   int      `json:"cascade"`
	Cached    int      `json:"cached"`
	Unchanged int      `json:"unchanged"`
	Groups    Outcomes `json:"buildGroups"`
	// Snapshots are every Snapshot (TestsPassed: the scenario passed, or
	// none applies); Tests those of the released application, which the
	// scenario tests.
	Snapshots Outcomes `json:"snapshots"`
	Tests     Outcomes `json:"snapshotTests"`
	Releases  Outcomes `json:"releases"`
	// BuildsPerHour is the sustained rate: builds finished while driving,
	// per hour of driving.
	BuildsPerHour    float64    `json:"buildsPerHour"`
	BuildsPerCommit  float64    `json:"buildsPerCommit"`
	DriveSeconds     float64    `json:"driveSeconds"`
	DrainSeconds     float64    `json:"drainSeconds"`
	Drained          bool       `json:"drained"`
	ThrottledSeconds float64    `json:"throttledSeconds"`
	StopSeconds      float64    `json:"serverStopSeconds"`
	APIErrors        int        `json:"apiErrors"`
	LastAPIError     string     `json:"lastApiError,omitempty"`
	Aborted          string     `json:"aborted,omitempty"`
	IdleStart        ProcSample `json:"idleStart"`
	IdleEnd          ProcSample `json:"idleEnd"`
}

// SoakInterval is one sampling interval.
type SoakInterval struct {
	StartSeconds float64 `json:"startSeconds"`
	EndSeconds   float64 `json:"endSeconds"`
	ProcSample
	GCSample
	// CPUPercent is the server's CPU use over the interval (100: one core);
	// CPUPerBuildMs and ChildCPUPerBuildMs divide its and its children's
	// CPU time by the builds finished.
	CPUPercent         float64 `json:"cpuPercent"`
	CPUPerBuildMs      float64 `json:"cpuPerBuildMillis"`
	ChildCPUPerBuildMs float64 `json:"childCpuPerBuildMillis"`
	List               Latency `json:"apiList"`
	Get                Latency `json:"apiGet"`
	// Build is commit → Succeeded of the driver's builds that finished in
	// the interval.
	Build         Latency          `json:"build"`
	Finished      int              `json:"finished"`
	Failed        int              `json:"failed"`
	Queued        int              `json:"queued"`
	Running       int              `json:"running"`
	TotalFinished int              `json:"totalFinished"`
	Disk          map[string]int64 `json:"diskBytes"`
	DBObjects     int64            `json:"dbObjects"`
	DBEvents      int64            `json:"dbEvents"`
}

// MemoryTrend is the server's RSS against builds finished.
type MemoryTrend struct {
	// SlopeMiBPer1000 is the least-squares slope of RSS over the last
	// three quarters of the drive, per 1,000 builds finished.
	SlopeMiBPer1000 float64 `json:"slopeMiBPer1000Builds"`
	Points          int     `json:"points"`
	FromBuilds      int     `json:"fromBuilds"`
	ToBuilds        int     `json:"toBuilds"`
	StartMiB        float64 `json:"startRssMiB"`
	EndMiB          float64 `json:"endRssMiB"`
	PeakMiB         float64 `json:"peakRssMiB"`
	Judged          bool    `json:"judged"`
	// LastHalfSlope is the RSS slope over the last half only: smaller than
	// SlopeMiBPer1000 when the growth was a warm-up that levelled off.
	LastHalfSlope float64 `json:"lastHalfSlopeMiBPer1000Builds"`
	// HeapSlope is the live Go heap's slope over the last three quarters:
	// RSS growing while it stays flat is memory outside the Go heap
	// (SQLite's page caches grow with the database up to their bound).
	HeapSlope float64  `json:"heapSlopeMiBPer1000Builds"`
	GCStart   GCSample `json:"gcStart"`
	GCEnd     GCSample `json:"gcEnd"`
}

// WorkTrend is the CPU time a build costs, first quarter against last:
// unlike latency, it does not depend on what else the machine runs.
type WorkTrend struct {
	ServerFirstMs float64 `json:"serverFirstQuarterMillis"`
	ServerLastMs  float64 `json:"serverLastQuarterMillis"`
	ChildFirstMs  float64 `json:"childrenFirstQuarterMillis"`
	ChildLastMs   float64 `json:"childrenLastQuarterMillis"`
}

// LatencyTrend compares the first and last quarters of the drive.
type LatencyTrend struct {
	Name   string  `json:"name"`
	First  Latency `json:"firstQuarter"`
	Last   Latency `json:"lastQuarter"`
	Growth float64 `json:"p99Growth"`
}

// StoreGrowth is one store's growth over the soak.
type StoreGrowth struct {
	Store         string    `json:"store"`
	Holds         string    `json:"holds"`
	Start         DiskUsage `json:"start"`
	End           DiskUsage `json:"end"`
	BytesPerBuild float64   `json:"bytesPerBuild"`
	FilesPerBuild float64   `json:"filesPerBuild"`
	DirsPerBuild  float64   `json:"dirsPerBuild"`
	// AvgFileBytes is the mean apparent size of the files added.
	AvgFileBytes float64 `json:"avgFileBytes"`
}

// RowGrowth is the growth of one kind's rows.
type RowGrowth struct {
	Kind          string  `json:"kind"`
	Rows          int64   `json:"rows"`
	Bytes         int64   `json:"bytes"`
	RowsPerBuild  float64 `json:"rowsPerBuild"`
	BytesPerBuild float64 `json:"bytesPerBuild"`
	AvgBytes      float64 `json:"avgBytes"`
}

// DatabaseGrowth explains the database's growth: objects by kind, the
// event log, the index, and the storage overhead on top.
type DatabaseGrowth struct {
	SizeStart       int64       `json:"sizeStart"`
	SizeEnd         int64       `json:"sizeEnd"`
	FreeEnd         int64       `json:"freeEnd"`
	SizePerBuild    float64     `json:"sizePerBuild"`
	Objects         []RowGrowth `json:"objects"`
	Events          []RowGrowth `json:"events"`
	IndexRows       int64       `json:"indexRows"`
	ContentPerBuild float64     `json:"contentPerBuild"`
	// Overhead is the size growth over the content growth (pages, the
	// primary keys and indexes, free space).
	Overhead float64 `json:"overhead"`
}

// storeHolds says what each store holds, for the report.
var storeHolds = map[string]string{
	"database":    "objects by kind and the event log (see below)",
	"registry":    "blobs (artifact, config, manifests, signature, attestations, SBOM), each in its own directory, and per-repository links",
	"logs":        "a log per build, test run and release",
	"evidence":    "provenance, SBOM and signature copies the API serves",
	"git":         "bare mirrors: the objects of each commit fetched",
	"work":        "checkouts while builds run; empty when idle",
	"repos":       "files published by releases",
	"step-images": "step images unpacked per namespace (none with image: host)",
	"server.log":  "the server's warnings and errors",
	"other":       "anything else in the data directory",
}

// report fills s.rep from what the sampler, driver and tracker saw.
func (s *soak) report(m *sampler, d *driver, tr *tracker) {
	r := s.rep
	r.Started = m.t0.UTC()
	r.Mix = s.mix(d)
	r.Target = SoakTarget{Builds: s.o.Builds, DurationSeconds: s.o.Duration.Seconds(), BuildsPerHour: d.rate * 3600,
		IntervalSeconds: s.o.Interval.Seconds(), MaxBacklog: s.o.MaxBacklog}
	r.Achieved = s.achieved(m, d, tr)
	r.Intervals = m.intervals
	r.Memory = memoryTrend(m)
	r.Latency = latencyTrends(m, tr)
	r.CPU = workTrend(m)
	builds := r.Achieved.Builds.Succeeded + r.Achieved.Builds.Failed
	r.Storage = storageGrowth(m.baseline, m.final, builds)
	r.Database = databaseGrowth(m.baseline.DB, m.final.DB, builds)
	r.Verdict = verdict(r, s.o.Limits)
}

func (s *soak) mix(d *driver) SoakMix {
	mx := SoakMix{Components: len(s.comps), Levels: map[string]int{}, ExpectedBuildsPerCommit: d.expectedPerCommit(),
		TestedAndReleased: s.o.Released > 0}
	for _, c := range s.comps {
		mx.Levels[c.Level]++
		if c.Propagate {
			mx.Propagating++
		}
	}
	mx.Description = fmt.Sprintf("%d components: %d libraries; %d middle components each requiring a library (%d pass "+
		"changes on, the others stop the cascade: early cutoff); %d leaves each requiring one or two middle ones",
		mx.Components, mx.Levels["lib"], mx.Levels["mid"], mx.Propagating, mx.Levels["app"])
	if mx.TestedAndReleased {
		mx.Description += fmt.Sprintf("; %d in application %s, whose every Snapshot is integration-tested and auto-released "+
			"(policy @minimal, publish-static)", mx.Levels["rel"], soakReleaseApp)
	}
	mx.Description += fmt.Sprintf(". Each commit's build is created like `kiln build --revision`; a commit makes %.2f builds on average, "+
		"every build the catalog script pipeline (two sandboxed steps), a push and signing", mx.ExpectedBuildsPerCommit)
	return mx
}

func (s *soak) achieved(m *sampler, d *driver, tr *tracker) SoakAchieved {
	a := SoakAchieved{Commits: d.commits, CommitsByLevel: d.byLevel,
		DriveSeconds: m.driveEnd.Sub(m.t0).Seconds(), DrainSeconds: m.end.Sub(m.driveEnd).Seconds(), Drained: m.drained,
		ThrottledSeconds: d.throttled.Seconds(), APIErrors: m.pr.errors + d.errors, LastAPIError: firstNonEmpty(m.pr.lastErr, d.lastErr),
		IdleStart: m.idleStart, IdleEnd: m.idleEnd, StopSeconds: s.rep.Achieved.StopSeconds}
	if m.aborted != nil {
		a.Aborted = m.aborted.Error()
	}
	countBuilds(&a, tr.builds.seenSince(m.t0))
	a.Groups = outcomes(tr.groups.seenSince(m.t0), "group")
	snaps := tr.snapshots.seenSince(m.t0)
	a.Snapshots = outcomes(snaps, "snapshot")
	a.Tests = outcomes(slices.DeleteFunc(snaps, func(r *record) bool { return r.app != soakReleaseApp }), "snapshot")
	a.Releases = outcomes(tr.releases.seenSince(m.t0), "release")
	if d.commits > 0 {
		a.BuildsPerCommit = float64(a.Builds.Created) / float64(d.commits)
	}
	if a.DriveSeconds > 0 {
		a.BuildsPerHour = float64(len(tr.builds.finishedBetween(m.t0, m.driveEnd))) / a.DriveSeconds * 3600
	}
	return a
}

// countBuilds counts the soak's builds by outcome and by origin.
func countBuilds(a *SoakAchieved, recs []*record) {
	a.Builds = outcomes(recs, "build")
	for _, r := range recs {
		if r.direct {
			a.Direct++
		} else {
			a.Cascade++
		}
		if r.cached {
			a.Cached++
		}
		if r.unchanged {
			a.Unchanged++
		}
	}
}

// outcomes counts records and names up to 10 failures and stuck ones.
func outcomes(recs []*record, what string) Outcomes {
	sort.Slice(recs, func(i, j int) bool { return recs[i].seen.Before(recs[j].seen) })
	var o Outcomes
	for _, r := range recs {
		o.Created++
		switch r.result {
		case passed:
			o.Succeeded++
		case failed:
			o.Failed++
			if len(o.Failures) < 10 {
				o.Failures = append(o.Failures, what+" "+r.name+": "+r.detail)
			}
		default:
			o.Unfinished++
			if len(o.Stuck) < 10 {
				o.Stuck = append(o.Stuck, fmt.Sprintf("%s %s: %s since %s", what, r.name, orDash(r.phase), r.seen.UTC().Format(time.TimeOnly)))
			}
		}
	}
	return o
}

// memoryTrend fits RSS and the live heap against builds finished over
// the last three quarters of the drive.
func memoryTrend(m *sampler) MemoryTrend {
	drive := m.driveEnd.Sub(m.t0)
	t := MemoryTrend{StartMiB: m.idleStart.RSSMiB, EndMiB: m.idleEnd.RSSMiB, PeakMiB: m.idleEnd.PeakMiB,
		GCStart: m.gcStart, GCEnd: m.gcEnd}
	pts := pointsBetween(m.mem, drive/4, drive)
	t.Points = len(pts)
	if len(pts) == 0 {
		return t
	}
	t.FromBuilds, t.ToBuilds = pts[0].builds, pts[len(pts)-1].builds
	// Too few points or builds, and noise (the garbage collector, page
	// caches) dominates any slope.
	if len(pts) >= 6 && t.ToBuilds-t.FromBuilds >= 200 {
		t.Judged = true
		t.SlopeMiBPer1000 = fit(pts, func(p memPoint) float64 { return p.rssMiB })
		t.HeapSlope = fit(pts, func(p memPoint) float64 { return p.heapMiB })
		t.LastHalfSlope = fit(pointsBetween(m.mem, drive/2, drive), func(p memPoint) float64 { return p.rssMiB })
	}
	return t
}

func pointsBetween(pts []memPoint, from, to time.Duration) []memPoint {
	var out []memPoint
	for _, p := range pts {
		if p.at >= from && p.at <= to {
			out = append(out, p)
		}
	}
	return out
}

// fit is the slope of y against builds, per 1,000 builds.
func fit(pts []memPoint, y func(memPoint) float64) float64 {
	var xs, ys []float64
	for _, p := range pts {
		xs, ys = append(xs, float64(p.builds)), append(ys, y(p))
	}
	return slope(xs, ys) * 1000
}

// workTrend is the CPU per build in the first and last quarters.
func workTrend(m *sampler) WorkTrend {
	drive := m.driveEnd.Sub(m.t0)
	var w WorkTrend
	w.ServerFirstMs, w.ChildFirstMs = cpuPerBuild(pointsBetween(m.mem, 0, drive/4))
	w.ServerLastMs, w.ChildLastMs = cpuPerBuild(pointsBetween(m.mem, drive-drive/4, drive))
	return w
}

func cpuPerBuild(pts []memPoint) (server, child float64) {
	if len(pts) < 2 {
		return 0, 0
	}
	a, b := pts[0], pts[len(pts)-1]
	if b.builds <= a.builds {
		return 0, 0
	}
	n := float64(b.builds - a.builds)
	return 1000 * (b.cpu - a.cpu) / n, 1000 * (b.child - a.child) / n
}

// slope is the least-squares slope of ys over xs.
func slope(xs, ys []float64) float64 {
	n := float64(len(xs))
	var sx, sy, sxx, sxy float64
	for i := range xs {
		sx, sy = sx+xs[i], sy+ys[i]
		sxx, sxy = sxx+xs[i]*xs[i], sxy+xs[i]*ys[i]
	}
	den := n*sxx - sx*sx
	if den == 0 {
		return 0
	}
	return (n*sxy - sx*sy) / den
}

// latencyTrends compares the first and last quarters of the drive.
func latencyTrends(m *sampler, tr *tracker) []LatencyTrend {
	q := m.driveEnd.Sub(m.t0) / 4
	firstTo, lastFrom := m.t0.Add(q), m.driveEnd.Add(-q)
	m.pr.mu.Lock()
	list, get := m.pr.list, m.pr.get
	m.pr.mu.Unlock()
	out := []LatencyTrend{
		trend("API list page (100 builds)", window(list, m.t0, firstTo), window(list, lastFrom, m.driveEnd)),
		trend("API get (a build)", window(get, m.t0, firstTo), window(get, lastFrom, m.driveEnd)),
	}
	var first, last []time.Duration
	for _, r := range tr.builds.finishedBetween(m.t0, m.driveEnd) {
		switch {
		case !r.direct || r.result != passed:
		case !r.done.After(firstTo):
			first = append(first, r.done.Sub(r.start))
		case r.done.After(lastFrom):
			last = append(last, r.done.Sub(r.start))
		}
	}
	return append(out, trend("build: commit → Succeeded", first, last))
}

func trend(name string, first, last []time.Duration) LatencyTrend {
	t := LatencyTrend{Name: name, First: summarise(first), Last: summarise(last)}
	if t.First.P99 > 0 {
		t.Growth = t.Last.P99 / t.First.P99
	}
	return t
}

// storageGrowth is each store's growth per build.
func storageGrowth(start, end storeSample, builds int) []StoreGrowth {
	names := map[string]bool{}
	for k := range start.Disk {
		names[k] = true
	}
	for k := range end.Disk {
		names[k] = true
	}
	var out []StoreGrowth
	for _, name := range storeOrder(names) {
		g := StoreGrowth{Store: name, Holds: storeHolds[name], Start: start.Disk[name], End: end.Disk[name]}
		delta := g.End.minus(g.Start)
		if builds > 0 {
			g.BytesPerBuild = float64(delta.Bytes) / float64(builds)
			g.FilesPerBuild = float64(delta.Files) / float64(builds)
			g.DirsPerBuild = float64(delta.Dirs) / float64(builds)
		}
		if delta.Files > 0 {
			g.AvgFileBytes = float64(delta.Apparent) / float64(delta.Files)
		}
		out = append(out, g)
	}
	return out
}

// storeOrder puts the stores in the report's order.
func storeOrder(names map[string]bool) []string {
	order := append([]string{"database"}, storeDirs...)
	order = append(order, "server.log", "other")
	var out []string
	for _, n := range order {
		if names[n] {
			out = append(out, n)
		}
	}
	return out
}

// databaseGrowth explains the database's growth by its rows.
func databaseGrowth(start, end *sqlstore.Usage, builds int) DatabaseGrowth {
	if start == nil || end == nil {
		return DatabaseGrowth{}
	}
	g := DatabaseGrowth{SizeStart: start.SizeBytes, SizeEnd: end.SizeBytes, FreeEnd: end.FreeBytes,
		Objects: rowGrowth(start.Objects, end.Objects, builds), Events: rowGrowth(start.Events, end.Events, builds),
		IndexRows: end.IndexRows - start.IndexRows}
	if builds == 0 {
		return g
	}
	g.SizePerBuild = float64(end.SizeBytes-start.SizeBytes) / float64(builds)
	content := sqlstore.Total(end.Objects).Bytes - sqlstore.Total(start.Objects).Bytes +
		sqlstore.Total(end.Events).Bytes - sqlstore.Total(start.Events).Bytes
	g.ContentPerBuild = float64(content) / float64(builds)
	if content > 0 {
		g.Overhead = float64(end.SizeBytes-start.SizeBytes) / float64(content)
	}
	return g
}

func rowGrowth(start, end map[string]sqlstore.Rows, builds int) []RowGrowth {
	var out []RowGrowth
	for kind, e := range end {
		s := start[kind]
		g := RowGrowth{Kind: kind, Rows: e.Count - s.Count, Bytes: e.Bytes - s.Bytes}
		if g.Rows == 0 && g.Bytes == 0 {
			continue
		}
		if builds > 0 {
			g.RowsPerBuild, g.BytesPerBuild = float64(g.Rows)/float64(builds), float64(g.Bytes)/float64(builds)
		}
		if e.Count > 0 {
			g.AvgBytes = float64(e.Bytes) / float64(e.Count)
		}
		out = append(out, g)
	}
	slices.SortFunc(out, func(a, b RowGrowth) int { return cmp.Compare(b.Bytes, a.Bytes) })
	return out
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}
