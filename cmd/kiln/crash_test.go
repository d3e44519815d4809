package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kilnbuild/kiln/api/v1alpha1"
)

// TestKill9LosesNothing runs the crash scenario twice: once undisturbed,
// once while the server is killed with SIGKILL at random moments (at least
// KILN_CRASH_KILLS times, default 20) and restarted on the same data. The
// scenario is a cascade through eleven components with a member that fails,
// a retry of the failed group, integration tests and releases through all
// their phases. Both runs must end in the same state — the same artifacts,
// the same released content, the same published files — with no build lost
// or stuck, and nothing run twice beyond the retries the system records.
//
// The killer never kills while something that was already interrupted
// once is running: a second interruption ends it as Failed by design
// (bounded retries), which is tested elsewhere.
func TestKill9LosesNothing(t *testing.T) {
	requireCrashTools(t)
	kills := envInt(t, "KILN_CRASH_KILLS", 20)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("KILN_CRASH_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (KILN_CRASH_SEED=%d reproduces the kill schedule)", seed, seed)
	k := &killer{rng: rand.New(rand.NewPCG(seed, seed)), total: kills}
	got := runCrashScenario(t, "killed", k, 0)
	t.Logf("%d kills; in progress at the moment of the kill: %s", k.done, k.summary())
	if kills > 0 && !k.satisfied() {
		t.Errorf("after %d cycles, %d of %d kills, and none while %v were in progress",
			got.cycles, k.done, kills, k.uncovered())
	}
	ref := runCrashScenario(t, "reference", nil, got.cycles)
	if diff := cmp.Diff(ref.final, got.final); diff != "" {
		t.Errorf("final state after %d kills differs from the undisturbed run (-want +got):\n%s", k.done, diff)
	}
}

func requireCrashTools(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("crash scenario skipped in -short mode")
	}
	if _, err := exec.LookPath("bwrap"); err != nil {
		if os.Getenv("CI") != "" || os.Getenv("KILN_REQUIRE_SANDBOX") != "" {
			t.Fatal("bubblewrap is required (scripts/test-deps.sh installs it)")
		}
		t.Skip("bubblewrap not installed")
	}
}

func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		t.Fatalf("%s=%q: want a non-negative integer", name, v)
	}
	return n
}

// scenarioResult is what a run of the scenario ended with.
type scenarioResult struct {
	final  finalState
	cycles int
}

// finalState is what must not depend on crashes: each component's output,
// the content of the newest released snapshot, and the published files.
type finalState struct {
	Components map[string]string // name -> content digest of its latest artifact
	Released   map[string]string // component -> content digest, in the newest released snapshot
	Published  map[string]string // file below the static repository -> sha256
	Failed     []string          // components of failed builds (flaky, once per cycle)
}

// maxCycles bounds the cascade-and-retry cycles a killed run repeats to
// reach its number of kills.
const maxCycles = 12

// runCrashScenario builds everything, then repeats a cycle — a new
// version of base cascades through the graph, flaky fails, its group is
// retried with flaky fixed — until the killer has killed enough (or, for
// the reference run, cycles times).
func runCrashScenario(t *testing.T, name string, k *killer, cycles int) scenarioResult {
	t.Helper()
	root := t.TempDir()
	urls, bump := crashRepos(t, filepath.Join(root, "repos"))
	p := startKiln(t, filepath.Join(root, "data"))
	d := &driver{t: t, p: p, k: k, durations: map[string]time.Duration{}}
	manifest := filepath.Join(root, "manifest.yaml")
	if err := os.WriteFile(manifest, []byte(crashManifest(urls)), 0o644); err != nil {
		t.Fatal(err)
	}
	d.phase("initial", func() {
		if out, err := p.kiln("apply", "-f", manifest); err != nil {
			t.Fatalf("applying the scenario: %v\n%s", err, out)
		}
	}, func(st *crashState) bool { return st.allBuilt() && st.quiet() && st.newestReleased() })
	n := 0
	for ; n == 0 || k == nil && n < cycles || k != nil && !k.satisfied() && n < maxCycles; n++ {
		d.cycle(bump, n+2)
	}
	st := d.last
	st.checkInvariants(t)
	final := finalState{Components: st.componentDigests(), Released: st.releasedContent(t),
		Published: publishedFiles(t, filepath.Join(p.dataDir, "repos", crashManaged)), Failed: st.failedComponents()}
	p.stop()
	t.Logf("%s run: %d cycles, phases %v", name, n, d.durations)
	return scenarioResult{final: final, cycles: n}
}

// cycle commits version v of base; flaky fails in the cascade; then its
// group is retried with flaky fixed.
func (d *driver) cycle(bump func(string), v int) {
	before := d.last.componentDigests()
	failed := len(d.last.failedComponents())
	var group string
	d.phase("cascade", func() {
		d.setScript("flaky", failingScript)
		bump(strconv.Itoa(v))
	}, func(st *crashState) bool {
		group = st.groupWithFailed("flaky")
		return group != "" && st.quiet() && len(st.failedComponents()) > failed &&
			st.components["base"].Status.LatestContentDigest != before["base"]
	})
	d.phase("retry", func() {
		d.setScript("flaky", componentByName("flaky").buildScript())
		d.p.patch(path("buildgroups", group), map[string]any{"spec": map[string]any{"retry": 1}})
	}, func(st *crashState) bool {
		g := st.groups[group]
		if g == nil || g.Status.Phase != "Succeeded" || !st.quiet() {
			return false
		}
		r := st.releaseOf(g.Annotations["kiln.dev/snapshot"])
		return r != nil && r.Status.Phase == "Succeeded" && st.newestReleased()
	})
}

func componentByName(name string) crashComponent {
	for _, c := range crashComponents {
		if c.name == name {
			return c
		}
	}
	panic("no component " + name)
}

func path(resource, name string) string {
	return "/apis/kiln.dev/v1alpha1/namespaces/" + crashNS + "/" + resource + "/" + name
}

// driver runs the scenario's phases, with the killer if there is one.
type driver struct {
	t         *testing.T
	p         *kilnProc
	k         *killer
	durations map[string]time.Duration
	last      *crashState
}

// phaseTimeout bounds each phase: anything longer is stuck.
const phaseTimeout = 5 * time.Minute

// phase runs action, then polls the state until done holds, letting the
// killer kill whenever it wants to.
func (d *driver) phase(name string, action func(), done func(*crashState) bool) {
	d.t.Helper()
	start := time.Now()
	action()
	if d.k != nil {
		d.k.phase = name
	}
	var err error
	for {
		var st *crashState
		if st, err = readState(d.p); err == nil {
			d.last = st
			if done(st) {
				d.durations[name] += time.Since(start).Round(time.Millisecond)
				return
			}
			if d.k != nil && d.k.due(st) {
				d.k.kill(d.p, st)
			}
		}
		if time.Since(start) > phaseTimeout {
			d.t.Fatalf("phase %s not done after %s (stuck?); last error: %v\nstate:\n%s\nserver log:\n%s",
				name, phaseTimeout, err, d.last.describe(), d.p.logTail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (d *driver) setScript(component, script string) {
	c := componentByName(component)
	d.p.patch(path("components", component), map[string]any{"spec": map[string]any{"build": map[string]any{"params": []any{
		map[string]any{"name": "image", "value": "host"},
		map[string]any{"name": "outputs", "value": `["out"]`},
		map[string]any{"name": "script", "value": script},
	}, "requires": c.requires}}})
}

// killer kills the server at random moments while something is in
// progress: when it first sees work going on, it picks a moment up to
// maxKillDelay later (much sooner when a kind of work it has not killed
// yet is in progress), and kills then if work is still going on. At most a
// third of the kills land before the cascade starts.
type killer struct {
	rng      *rand.Rand
	total    int
	done     int
	phase    string
	at       time.Time // zero: not armed
	activity map[string]int
	// gate holds what was running, not yet marked interrupted, when the
	// server came back; no kill until each is marked or done, or a kill
	// could interrupt it a second time before the record of the first.
	gate      map[string]bool
	needsGate bool
}

const maxKillDelay = 400 * time.Millisecond

// mustCover is the work a killed run must have been killed during.
var mustCover = []string{"build:Running", "test", "release:Tenant", "release:Policy", "release:Managed", "release:Final"}

func (k *killer) uncovered() []string {
	var out []string
	for _, a := range mustCover {
		if k.activity[a] == 0 {
			out = append(out, a)
		}
	}
	return out
}

func (k *killer) satisfied() bool { return k.done >= k.total && len(k.uncovered()) == 0 }

// worthKilling: once the kills are done, only work not yet killed is.
func (k *killer) worthKilling(st *crashState) bool {
	if k.done < k.total {
		return true
	}
	for _, a := range st.activity() {
		if slices.Contains(k.uncovered(), a) {
			return true
		}
	}
	return false
}

func (k *killer) wantsMore() bool {
	if k.phase == "initial" {
		return k.done < k.total/3
	}
	return !k.satisfied()
}

// due reports whether to kill now: work is in progress, the armed moment
// has come, and nothing running has been interrupted before.
func (k *killer) due(st *crashState) bool {
	unmarked := st.runningUnmarked()
	if k.needsGate {
		k.gate, k.needsGate = unmarked, false
	}
	for name := range k.gate {
		if !unmarked[name] {
			delete(k.gate, name)
		}
	}
	if !k.wantsMore() || st.idle() || st.reinterruptible() || len(k.gate) > 0 || !k.worthKilling(st) {
		k.at = time.Time{}
		return false
	}
	if k.at.IsZero() {
		delay := maxKillDelay
		for _, a := range st.activity() {
			if slices.Contains(k.uncovered(), a) {
				delay = maxKillDelay / 10
			}
		}
		k.at = time.Now().Add(time.Duration(k.rng.Int64N(int64(delay))))
		return false
	}
	return time.Now().After(k.at)
}

func (k *killer) kill(p *kilnProc, st *crashState) {
	if k.activity == nil {
		k.activity = map[string]int{}
	}
	for _, a := range st.activity() {
		k.activity[a]++
	}
	p.kill9()
	p.start()
	k.done++
	k.at = time.Time{}
	k.needsGate = true
}

// runningUnmarked names the builds, test runs and release pipeline runs
// recorded as running and not (yet) as interrupted.
func (st *crashState) runningUnmarked() map[string]bool {
	out := map[string]bool{}
	for i := range st.builds {
		if b := &st.builds[i]; b.Status.Phase == "Running" && !b.Status.Interrupted {
			out["build/"+b.Name] = true
		}
	}
	for i := range st.snapshots {
		for _, tr := range st.snapshots[i].Status.Tests {
			if tr.State == "Running" && !tr.Interrupted {
				out["test/"+st.snapshots[i].Name+"/"+tr.Scenario] = true
			}
		}
	}
	for i := range st.releases {
		for j, pr := range st.releases[i].Status.Pipelines {
			if pr.Status == "Running" {
				out[fmt.Sprintf("release/%s/%d", st.releases[i].Name, j)] = true
			}
		}
	}
	return out
}

func (k *killer) summary() string {
	var parts []string
	for a, n := range k.activity {
		parts = append(parts, fmt.Sprintf("%s %d", a, n))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// crashState is one read of everything the scenario made.
type crashState struct {
	builds     []v1alpha1.Build
	groups     map[string]*v1alpha1.BuildGroup
	snapshots  []v1alpha1.Snapshot
	releases   []v1alpha1.Release
	components map[string]*v1alpha1.Component
}

func readState(p *kilnProc) (*crashState, error) {
	st := &crashState{groups: map[string]*v1alpha1.BuildGroup{}, components: map[string]*v1alpha1.Component{}}
	var err error
	if st.builds, err = listItems[v1alpha1.Build](p, path("builds", "")); err != nil {
		return nil, err
	}
	groups, err := listItems[v1alpha1.BuildGroup](p, path("buildgroups", ""))
	if err != nil {
		return nil, err
	}
	for i := range groups {
		st.groups[groups[i].Name] = &groups[i]
	}
	if st.snapshots, err = listItems[v1alpha1.Snapshot](p, path("snapshots", "")); err != nil {
		return nil, err
	}
	if st.releases, err = listItems[v1alpha1.Release](p, path("releases", "")); err != nil {
		return nil, err
	}
	comps, err := listItems[v1alpha1.Component](p, path("components", ""))
	if err != nil {
		return nil, err
	}
	for i := range comps {
		st.components[comps[i].Name] = &comps[i]
	}
	return st, nil
}

func buildDone(b *v1alpha1.Build) bool {
	switch b.Status.Phase {
	case "Succeeded", "Failed", "Cancelled":
		return true
	}
	return false
}

func testsDone(s *v1alpha1.Snapshot) bool {
	for _, tr := range s.Status.Tests {
		if tr.State != "Finished" {
			return false
		}
	}
	return true
}

func releaseDone(r *v1alpha1.Release) bool {
	return r.Status.Phase == "Succeeded" || r.Status.Phase == "Failed"
}

// quiet reports that nothing is queued, running, testing or releasing.
func (st *crashState) quiet() bool {
	for i := range st.builds {
		if !buildDone(&st.builds[i]) {
			return false
		}
	}
	for _, g := range st.groups {
		switch g.Status.Phase {
		case "Succeeded", "Failed", "Cancelled":
		default:
			return false
		}
	}
	for i := range st.snapshots {
		if !testsDone(&st.snapshots[i]) {
			return false
		}
	}
	for i := range st.releases {
		if !releaseDone(&st.releases[i]) {
			return false
		}
	}
	return true
}

func (st *crashState) allBuilt() bool {
	if len(st.components) != len(crashComponents) {
		return false
	}
	for _, c := range st.components {
		if c.Status.LatestContentDigest == "" {
			return false
		}
	}
	return true
}

// newest returns the snapshot with the highest sequence, or nil.
func (st *crashState) newest() *v1alpha1.Snapshot {
	var best *v1alpha1.Snapshot
	bestSeq := int64(-1)
	for i := range st.snapshots {
		s := &st.snapshots[i]
		seq, _ := strconv.ParseInt(s.Labels["kiln.dev/sequence"], 10, 64)
		if seq > bestSeq {
			best, bestSeq = s, seq
		}
	}
	return best
}

func (st *crashState) releaseOf(snapshot string) *v1alpha1.Release {
	for i := range st.releases {
		if st.releases[i].Spec.Snapshot == snapshot {
			return &st.releases[i]
		}
	}
	return nil
}

// newestReleased: the newest snapshot holds every component's current
// artifact and was released.
func (st *crashState) newestReleased() bool {
	s := st.newest()
	if s == nil {
		return false
	}
	r := st.releaseOf(s.Name)
	return r != nil && r.Status.Phase == "Succeeded" && len(s.Spec.Components) == len(crashComponents)
}

func (st *crashState) groupWithFailed(component string) string {
	for name, g := range st.groups {
		for _, m := range g.Status.Members {
			if m.Component == component && m.State == v1alpha1.MemberFailed {
				return name
			}
		}
	}
	return ""
}

func (st *crashState) componentDigests() map[string]string {
	out := map[string]string{}
	for name, c := range st.components {
		out[name] = c.Status.LatestContentDigest
	}
	return out
}

// contentOf maps an artifact digest to the content digest of the build
// that pushed it.
func (st *crashState) contentOf(artifact string) string {
	for i := range st.builds {
		b := &st.builds[i]
		if b.Status.Artifact != nil && b.Status.Artifact.Digest == artifact {
			return b.Status.ContentDigest
		}
	}
	return ""
}

func (st *crashState) releasedContent(t *testing.T) map[string]string {
	s := st.newest()
	out := map[string]string{}
	for _, c := range s.Spec.Components {
		_, digest, _ := strings.Cut(c.ContainerImage, "@")
		out[c.Name] = st.contentOf(digest)
		if out[c.Name] == "" {
			t.Errorf("released snapshot %s names %s, which no build pushed", s.Name, c.ContainerImage)
		}
	}
	return out
}

func (st *crashState) failedComponents() []string {
	var out []string
	for i := range st.builds {
		if st.builds[i].Status.Phase == "Failed" {
			out = append(out, st.builds[i].Spec.Component)
		}
	}
	sort.Strings(out)
	return out
}

// reinterruptible reports whether something running has already been
// interrupted once: killing now would end it as Failed by design.
func (st *crashState) reinterruptible() bool {
	for i := range st.builds {
		b := &st.builds[i]
		if !buildDone(b) && (b.Status.Interrupted || b.Status.Attempts > 1) {
			return true
		}
	}
	for i := range st.snapshots {
		for _, tr := range st.snapshots[i].Status.Tests {
			if tr.State != "Finished" && tr.Interrupted {
				return true
			}
		}
	}
	for i := range st.releases {
		r := &st.releases[i]
		if releaseDone(r) {
			continue
		}
		role := strings.ToLower(r.Status.Phase) // the pipeline the phase runs: tenant, managed, final
		for _, pr := range r.Status.Pipelines {
			if pr.Role == role && pr.Status == v1alpha1.PipelineRunInterrupted {
				return true
			}
		}
	}
	return false
}

// activity names what is in progress, for the kill summary.
func (st *crashState) activity() []string {
	var out []string
	phases := map[string]bool{}
	for i := range st.builds {
		if !buildDone(&st.builds[i]) {
			phases["build:"+st.builds[i].Status.Phase] = true
		}
	}
	for p := range phases {
		out = append(out, p)
	}
	for _, g := range st.groups {
		if p := g.Status.Phase; p != "Succeeded" && p != "Failed" && p != "Cancelled" {
			out = append(out, "group")
			break
		}
	}
	for i := range st.snapshots {
		if !testsDone(&st.snapshots[i]) {
			out = append(out, "test")
			break
		}
	}
	for i := range st.releases {
		if r := &st.releases[i]; !releaseDone(r) {
			out = append(out, "release:"+r.Status.Phase)
		}
	}
	return out
}

func (st *crashState) idle() bool { return len(st.activity()) == 0 }

// checkInvariants: nothing ran twice beyond a recorded retry, and no two
// builds ran the pipeline for the same component and inputs.
func (st *crashState) checkInvariants(t *testing.T) {
	t.Helper()
	ran := map[string]string{}
	for i := range st.builds {
		b := &st.builds[i]
		if b.Status.Attempts > 2 || (b.Status.Attempts == 2 && !b.Status.Interrupted) {
			t.Errorf("build %s started %d times (interrupted: %v): at most one recorded retry",
				b.Name, b.Status.Attempts, b.Status.Interrupted)
		}
		if b.Status.Phase != "Succeeded" || b.Status.CachedFrom != "" || b.Status.InputsDigest == "" {
			continue
		}
		key := b.Spec.Component + " " + b.Status.InputsDigest
		if other, ok := ran[key]; ok {
			t.Errorf("builds %s and %s both ran %s with identical inputs", other, b.Name, b.Spec.Component)
		}
		ran[key] = b.Name
	}
	for i := range st.snapshots {
		for _, tr := range st.snapshots[i].Status.Tests {
			if tr.Attempts > 2 || (tr.Attempts == 2 && !tr.Interrupted) {
				t.Errorf("snapshot %s scenario %s ran %d times (interrupted: %v): at most one recorded retry",
					st.snapshots[i].Name, tr.Scenario, tr.Attempts, tr.Interrupted)
			}
		}
	}
}

func (st *crashState) describe() string {
	if st == nil {
		return "(never read)"
	}
	var b strings.Builder
	for i := range st.builds {
		x := &st.builds[i]
		fmt.Fprintf(&b, "build %s %s attempts=%d interrupted=%v %s\n", x.Name, x.Status.Phase, x.Status.Attempts, x.Status.Interrupted, x.Status.Message)
	}
	for n, g := range st.groups {
		fmt.Fprintf(&b, "group %s %s %s\n", n, g.Status.Phase, g.Status.Message)
	}
	for i := range st.snapshots {
		s := &st.snapshots[i]
		fmt.Fprintf(&b, "snapshot %s seq=%s tests=%+v\n", s.Name, s.Labels["kiln.dev/sequence"], s.Status.Tests)
	}
	for i := range st.releases {
		r := &st.releases[i]
		fmt.Fprintf(&b, "release %s %s\n", r.Name, r.Status.Phase)
		for _, c := range r.Status.Conditions {
			fmt.Fprintf(&b, "    %s=%s %s: %s\n", c.Type, c.Status, c.Reason, c.Message)
		}
		for _, pr := range r.Status.Pipelines {
			fmt.Fprintf(&b, "    pipeline %+v\n", pr)
		}
	}
	return b.String()
}

// publishedFiles hashes every file of the static repository.
func publishedFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if d.Name() == "index.json" {
			// The index names the artifact, whose manifest (unlike its
			// files) records which build pushed it, and the time.
			b, err = indexFiles(b)
			if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
		}
		sum := sha256.Sum256(b)
		rel, _ := filepath.Rel(dir, p)
		out[rel] = hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil {
		t.Fatalf("reading the published repository: %v", err)
	}
	return out
}

func indexFiles(raw []byte) ([]byte, error) {
	var idx struct {
		Files json.RawMessage `json:"files"`
	}
	if err := json.Unmarshal(raw, &idx); err != nil {
		return nil, err
	}
	return idx.Files, nil
}
