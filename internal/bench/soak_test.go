package bench

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func requireSandbox(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("bwrap"); err != nil {
		if os.Getenv("CI") != "" || os.Getenv("KILN_REQUIRE_SANDBOX") != "" {
			t.Fatal("bubblewrap is required (scripts/test-deps.sh installs it)")
		}
		t.Skip("bubblewrap not installed")
	}
}

// buildKiln compiles the kiln command, the server the soak starts.
func buildKiln(t *testing.T) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go is not in PATH: cannot build kiln")
	}
	exe := filepath.Join(t.TempDir(), "kiln")
	if out, err := exec.Command(gobin, "build", "-o", exe, "../../cmd/kiln").CombinedOutput(); err != nil {
		t.Fatalf("building kiln: %v\n%s", err, out)
	}
	return exe
}

// TestSoakAgainstRealServer runs a soak of a few seconds against a real
// `kiln up` and checks that every part of the report is filled and agrees
// with the rest.
func TestSoakAgainstRealServer(t *testing.T) {
	requireSandbox(t)
	start := time.Now()
	exe := buildKiln(t)
	t.Logf("kiln built in %s", time.Since(start).Round(time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rep, err := RunSoak(ctx, SoakOptions{Exe: exe, Dir: t.TempDir(), Builds: 12, Duration: 8 * time.Second,
		Interval: 2 * time.Second, Components: 5, Released: 1, Drain: time.Minute, Log: testLog{t, start}})
	if err != nil {
		t.Fatal(err)
	}
	checkAchieved(t, rep.Achieved)
	checkIntervals(t, rep)
	checkStorage(t, rep)
	checkVerdict(t, rep)
}

func checkAchieved(t *testing.T, a SoakAchieved) {
	t.Helper()
	b := a.Builds
	if a.Commits == 0 || a.Direct != a.Commits || a.Cascade != b.Created-a.Direct || b.Created < a.Commits {
		t.Errorf("commits %d, builds %d (direct %d, cascade %d)", a.Commits, b.Created, a.Direct, a.Cascade)
	}
	if b.Failed != 0 || b.Unfinished != 0 || b.Succeeded != b.Created || !a.Drained || a.Aborted != "" || a.APIErrors != 0 {
		t.Errorf("builds %+v, drained %v, aborted %q, API errors %d (%s)", b, a.Drained, a.Aborted, a.APIErrors, a.LastAPIError)
	}
	if a.Snapshots.Created == 0 || a.Snapshots.Succeeded != a.Snapshots.Created {
		t.Errorf("snapshots %+v", a.Snapshots)
	}
	if a.CommitsByLevel["rel"] > 0 && (a.Tests.Succeeded == 0 || a.Releases.Succeeded == 0) {
		t.Errorf("%d commits to the released component, tests %+v, releases %+v", a.CommitsByLevel["rel"], a.Tests, a.Releases)
	}
	if a.BuildsPerHour <= 0 || a.DriveSeconds <= 0 || a.IdleStart.RSSMiB <= 0 || a.IdleEnd.FDs <= 0 {
		t.Errorf("rate %.0f/h over %.1f s, idle %+v → %+v", a.BuildsPerHour, a.DriveSeconds, a.IdleStart, a.IdleEnd)
	}
}

// checkIntervals: every build finished in exactly one interval, and each
// interval has the server's figures.
func checkIntervals(t *testing.T, rep *SoakReport) {
	t.Helper()
	if len(rep.Intervals) < 4 {
		t.Fatalf("%d intervals over 8 s at 2 s", len(rep.Intervals))
	}
	finished, list := 0, 0
	for i, iv := range rep.Intervals {
		finished += iv.Finished
		list += iv.List.N
		if iv.RSSMiB <= 0 || iv.PeakMiB < iv.RSSMiB || iv.FDs <= 0 || iv.Threads <= 0 || iv.Disk["database"] <= 0 ||
			iv.Disk["registry"] <= 0 || iv.DBObjects <= 0 || iv.DBEvents <= 0 || iv.EndSeconds <= iv.StartSeconds ||
			iv.GCs == 0 || iv.HeapMiB <= 0 || iv.CPUSeconds <= 0 {
			t.Errorf("interval %d: %+v", i, iv)
		}
		if iv.TotalFinished != finished {
			t.Errorf("interval %d: total %d, sum of intervals %d", i, iv.TotalFinished, finished)
		}
	}
	if want := rep.Achieved.Builds.Succeeded; finished != want || list == 0 {
		t.Errorf("intervals count %d finished builds, the soak %d; %d list probes", finished, want, list)
	}
}

// checkStorage: each store's growth is explained — one Build object per
// build, a log per build, blobs in the registry, evidence files.
func checkStorage(t *testing.T, rep *SoakReport) {
	t.Helper()
	per := map[string]StoreGrowth{}
	for _, g := range rep.Storage {
		per[g.Store] = g
	}
	if g := per["registry"]; g.BytesPerBuild <= 0 || g.FilesPerBuild < 3 || g.AvgFileBytes <= 0 {
		t.Errorf("registry %+v", g)
	}
	if g := per["logs"]; g.FilesPerBuild < 1 || g.AvgFileBytes <= 0 {
		t.Errorf("logs %+v", g)
	}
	if g := per["evidence"]; g.FilesPerBuild <= 0 {
		t.Errorf("evidence %+v", g)
	}
	d := rep.Database
	var builds *RowGrowth
	for i := range d.Objects {
		if d.Objects[i].Kind == "Build" {
			builds = &d.Objects[i]
		}
	}
	if builds == nil || builds.RowsPerBuild != 1 || builds.AvgBytes <= 0 || d.ContentPerBuild <= 0 || d.SizeEnd <= d.SizeStart {
		t.Errorf("database %+v (Build rows %+v)", d, builds)
	}
}

func checkVerdict(t *testing.T, rep *SoakReport) {
	t.Helper()
	status := map[string]string{}
	for _, c := range rep.Verdict.Checks {
		status[c.Name] = c.Status
	}
	for _, name := range []string{"builds succeeded", "nothing stuck", "API answered", "idle server clean", "work directory empty when idle"} {
		if status[name] != CheckPass {
			t.Errorf("check %q: %s (%+v)", name, status[name], rep.Verdict.Checks)
		}
	}
	// Eight seconds cannot show a trend: judged n/a, not passed.
	if status["memory flat"] != CheckNA || status["latency flat: build: commit → Succeeded"] != CheckNA {
		t.Errorf("short-run checks: %v", status)
	}
	var out strings.Builder
	rep.WriteText(&out)
	for _, want := range []string{"Mix: 5 components", "Verdict:", "registry", "objects  Build"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, out.String())
		}
	}
}

// testLog writes the soak's progress to the test log.
type testLog struct {
	t     *testing.T
	start time.Time
}

func (l testLog) Write(p []byte) (int, error) {
	l.t.Logf("%5.1fs %s", time.Since(l.start).Seconds(), strings.TrimSpace(string(p)))
	return len(p), nil
}
