package bench

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSoakGraphAndCascades(t *testing.T) {
	comps := soakGraph(20, 2)
	levels := map[string]int{}
	byName := map[string]*soakComponent{}
	for _, c := range comps {
		levels[c.Level]++
		byName[c.Name] = c
		for _, r := range c.Requires {
			if byName[r] == nil {
				t.Errorf("%s requires %s, which is not created before it", c.Name, r)
			}
		}
	}
	if levels["lib"] != 3 || levels["mid"] != 7 || levels["app"] != 8 || levels["rel"] != 2 {
		t.Fatalf("levels %v", levels)
	}
	// lib-0 rebuilds mid-0, mid-3 and mid-6; mid-0 and mid-6 pass the
	// change on to app-0, app-6 and app-7 (mid-0) and app-6 (mid-6);
	// mid-3's output stays the same, so app-3 is not rebuilt.
	for name, want := range map[string]int{"lib-0": 7, "lib-1": 5, "mid-0": 4, "mid-1": 3, "app-0": 1, "rel-0": 1} {
		if got := cascade(comps, byName[name]); got != want {
			t.Errorf("cascade(%s) = %d, want %d", name, got, want)
		}
	}
	if s := byName["mid-0"].script(); !strings.Contains(s, "/kiln/deps/") || strings.Contains(byName["mid-1"].script(), "/kiln/deps/") {
		t.Errorf("scripts: %q / %q", s, byName["mid-1"].script())
	}
	m := soakManifest(comps, "/t")
	if strings.Index(m, "name: soak-release,") > strings.Index(m, "name: rel-0,") || !strings.Contains(m, "file:///t") {
		t.Errorf("the released application must precede its components, and the scenario name the tests:\n%s", m)
	}
}

func TestSoakGraphSmallest(t *testing.T) {
	comps := soakGraph(2, 0)
	if len(comps) != 2 || comps[0].Level != "lib" || comps[1].Level != "mid" || cascade(comps, comps[0]) != 2 {
		t.Fatalf("%+v", comps)
	}
}

func TestSlope(t *testing.T) {
	xs := []float64{0, 1000, 2000, 3000}
	if got := slope(xs, []float64{100, 102, 104, 106}); math.Abs(got*1000-2) > 1e-9 {
		t.Errorf("slope %v, want 2 per 1000", got*1000)
	}
	if got := slope([]float64{5, 5}, []float64{1, 2}); got != 0 {
		t.Errorf("vertical slope %v", got)
	}
}

func TestParseStat(t *testing.T) {
	state, ppid, ok := parseStat("42 (git (remote) x) Z 7 42 42 0 -1")
	if !ok || state != "Z" || ppid != 7 {
		t.Errorf("got %q %d %v", state, ppid, ok)
	}
	if _, _, ok := parseStat("garbage"); ok {
		t.Error("parsed garbage")
	}
}

func TestStoreOf(t *testing.T) {
	for rel, want := range map[string]string{"kiln.db-wal": "database", "registry/docker/x": "registry", "logs": "logs",
		"server.log": "server.log", "tls/ca.crt": "other", "work/builds/b1/src": "work"} {
		if got := storeOf(rel); got != want {
			t.Errorf("storeOf(%q) = %q, want %q", rel, got, want)
		}
	}
}

func TestLatencyCheck(t *testing.T) {
	q := func(n int, p99 float64) Latency { return Latency{N: n, P99: p99} }
	for _, c := range []struct {
		first, last Latency
		want        string
	}{
		{q(200, 10), q(200, 19), CheckPass},
		{q(200, 10), q(200, 25), CheckFail},
		{q(200, 1), q(200, 8), CheckPass}, // +7 ms: under the slack
		{q(20, 10), q(200, 90), CheckNA},
	} {
		tr := LatencyTrend{Name: "x", First: c.first, Last: c.last}
		if got := latencyCheck(tr, 2, 10*time.Millisecond, 100); got.Status != c.want {
			t.Errorf("%+v → %+v: %s, want %s", c.first, c.last, got.Status, c.want)
		}
	}
}

func TestMemoryCheck(t *testing.T) {
	l := SoakLimits{RSSSlope: 5}
	if c := memoryCheck(MemoryTrend{Judged: true, SlopeMiBPer1000: 6}, l); c.Status != CheckFail {
		t.Errorf("6 MiB/1000 builds: %+v", c)
	}
	if c := memoryCheck(MemoryTrend{Judged: true, SlopeMiBPer1000: -3}, l); c.Status != CheckPass {
		t.Errorf("shrinking: %+v", c)
	}
	if c := memoryCheck(MemoryTrend{SlopeMiBPer1000: 60}, l); c.Status != CheckNA {
		t.Errorf("unjudged: %+v", c)
	}
}

func TestAccountedCheck(t *testing.T) {
	g := func(store string, grow int64) StoreGrowth {
		return StoreGrowth{Store: store, Start: DiskUsage{Bytes: 1 << 20}, End: DiskUsage{Bytes: 1<<20 + grow}}
	}
	ok := accountedCheck([]StoreGrowth{g("registry", 100<<20), g("other", 1<<20)}, SoakLimits{Unaccounted: 0.05})
	bad := accountedCheck([]StoreGrowth{g("registry", 10<<20), g("other", 2<<20)}, SoakLimits{Unaccounted: 0.05})
	if ok.Status != CheckPass || bad.Status != CheckFail {
		t.Errorf("%+v / %+v", ok, bad)
	}
}

func TestSoakOptionsRejected(t *testing.T) {
	for _, o := range []SoakOptions{
		{Exe: "x", Interval: 2 * time.Minute, Duration: time.Minute},
		{Exe: "x", Components: 1},
		{Exe: "x", Components: 5, Released: 4},
		{Exe: "x", Builds: -1},
	} {
		if err := o.defaults(); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}

func TestGCTraceFollowsTheLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "server.log")
	write := func(s string) {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteString(s); err != nil {
			t.Fatal(err)
		}
	}
	g := &gcTrace{path: path}
	if got := g.read(); got != (GCSample{}) {
		t.Fatalf("no log yet: %+v", got)
	}
	write("time=… level=WARN msg=x\n" +
		"gc 1 @0.023s 48%: 52+22+3.4 ms clock, 105+0.19/1.1/0+6.8 ms cpu, 3->4->1 MB, 4 MB goal, 0 MB stacks, 0 MB globals, 2 P\n" +
		"gc 2 @9.130s 3%: 0.058+4.0+0.031 ms clock, 0.11+0.008/2.6/0.22+0.062 ms cpu, 36->37->21 MB, 42 MB goal, 2 MB stacks, 0 MB globals, 2 P\n" +
		"gc 3 @9.5s 3%: 0.1+1+0.1 ms clock, 0.2+0/1/0+0.2 ms cpu, 40->41->2") // a line still being written
	if got := g.read(); got != (GCSample{GCs: 2, HeapMiB: 21, StacksMiB: 2}) {
		t.Fatalf("after two collections: %+v", got)
	}
	write("5 MB, 44 MB goal, 3 MB stacks, 0 MB globals, 2 P\nhttp: something\n")
	if got := g.read(); got != (GCSample{GCs: 3, HeapMiB: 25, StacksMiB: 3}) {
		t.Fatalf("after the third: %+v", got)
	}
	if got := g.read(); got.GCs != 3 {
		t.Fatalf("nothing new: %+v", got)
	}
}

func TestSampleProcReadsThisProcess(t *testing.T) {
	busy := time.Now()
	for time.Since(busy) < 50*time.Millisecond {
	}
	s := sampleProc(os.Getpid())
	if s.RSSMiB <= 0 || s.PeakMiB < s.RSSMiB || s.Threads <= 0 || s.FDs <= 0 || s.CPUSeconds <= 0 || s.Load1 < 0 {
		t.Errorf("%+v", s)
	}
}
