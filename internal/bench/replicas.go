package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kilnbuild/kiln/internal/client"
	"github.com/kilnbuild/kiln/internal/pgtest"
)

// ReplicasOptions shape `kiln bench replicas`: kiln up replicas with the
// no-op executor (builds run nothing) on one PostgreSQL database.
type ReplicasOptions struct {
	// Database is a PostgreSQL server URL whose role may create databases;
	// empty starts a throw-away cluster (initdb, fsync off) for the run.
	Database string
	// Replicas are the replica counts measured (default 1, 2, 3).
	Replicas []int
	// Builds per dispatch run (default 2000).
	Builds int
	// Concurrent is how many builds run at once for the CPU figure
	// (default 10000; 0 skips it), each for Hold (default 2m).
	Concurrent int
	Hold       time.Duration
	// Takeover measures the takeover of a killed replica's builds.
	Takeover bool
	Exe      string // kiln binary (default this one)
	Log      io.Writer
}

// DispatchRun is one replica count's dispatch figures.
type DispatchRun struct {
	Replicas  int     `json:"replicas"`
	Builds    int     `json:"builds"`
	PerSecond float64 `json:"buildsPerSecond"`
	// Start latency: build created (API answer) → seen Running by a watch.
	StartP50 float64 `json:"startP50Millis"`
	StartP90 float64 `json:"startP90Millis"`
	StartP99 float64 `json:"startP99Millis"`
	// IdleStart is the same latency one build at a time (no backlog).
	IdleStartP50 float64 `json:"idleStartP50Millis"`
}

// TakeoverRun is the cost of a replica dying.
type TakeoverRun struct {
	Builds        int     `json:"killedReplicaBuilds"`
	RequeuedAfter float64 `json:"allRequeuedSeconds"`
	RunningAfter  float64 `json:"allRunningAgainSeconds"`
}

// ConcurrentRun is the control plane's CPU with Concurrent builds at once.
type ConcurrentRun struct {
	Builds      int     `json:"builds"`
	PeakRunning int     `json:"peakRunning"`
	KilnCPU     float64 `json:"kilnCPUSeconds"`
	PostgresCPU float64 `json:"postgresCPUSeconds"`
	PerBuildMS  float64 `json:"cpuMillisPerBuild"`
	WallSeconds float64 `json:"wallSeconds"`
}

// ReplicasReport is what `kiln bench replicas` measured.
type ReplicasReport struct {
	Dispatch   []DispatchRun  `json:"dispatch"`
	Takeover   *TakeoverRun   `json:"takeover,omitempty"`
	Concurrent *ConcurrentRun `json:"concurrent,omitempty"`
}

func (o *ReplicasOptions) defaults() error {
	if len(o.Replicas) == 0 {
		o.Replicas = []int{1, 2, 3}
	}
	if o.Builds <= 0 {
		o.Builds = 2000
	}
	if o.Hold <= 0 {
		o.Hold = 2 * time.Minute
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Exe == "" {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		o.Exe = exe
	}
	return nil
}

// RunReplicas runs the replica benchmarks.
func RunReplicas(ctx context.Context, o ReplicasOptions) (*ReplicasReport, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	b, err := newReplicaBench(o)
	if err != nil {
		return nil, err
	}
	defer b.close()
	rep := &ReplicasReport{}
	for _, n := range o.Replicas {
		run, err := b.dispatch(ctx, n)
		if err != nil {
			return nil, fmt.Errorf("dispatch with %d replicas: %w", n, err)
		}
		rep.Dispatch = append(rep.Dispatch, *run)
	}
	if o.Takeover {
		if rep.Takeover, err = b.takeover(ctx); err != nil {
			return nil, fmt.Errorf("takeover: %w", err)
		}
	}
	if o.Concurrent > 0 {
		if rep.Concurrent, err = b.concurrent(ctx); err != nil {
			return nil, fmt.Errorf("%d concurrent builds: %w", o.Concurrent, err)
		}
	}
	return rep, nil
}

// replicaBench holds the database server and the scratch directory.
type replicaBench struct {
	o       ReplicasOptions
	dir     string
	server  string // DSN of the server
	cluster *pgtest.Cluster
	dbs     int
}

func newReplicaBench(o ReplicasOptions) (*replicaBench, error) {
	dir, err := os.MkdirTemp("", "kiln-bench-replicas-")
	if err != nil {
		return nil, err
	}
	b := &replicaBench{o: o, dir: dir, server: o.Database}
	if b.server == "" {
		if b.cluster, err = pgtest.StartCluster(); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("starting PostgreSQL (or pass --database): %w", err)
		}
		b.server = b.cluster.DSN
	}
	return b, nil
}

func (b *replicaBench) close() {
	if b.cluster != nil {
		b.cluster.Stop()
	}
	_ = os.RemoveAll(b.dir)
}

func (b *replicaBench) logf(format string, args ...any) {
	fmt.Fprintf(b.o.Log, format+"\n", args...)
}

// freshDatabase creates a new database on the server and returns its DSN.
func (b *replicaBench) freshDatabase(ctx context.Context) (string, error) {
	b.dbs++
	name := fmt.Sprintf("kiln_bench_%d_%d", os.Getpid(), b.dbs)
	conn, err := pgx.Connect(ctx, b.server)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", err
	}
	return pgtest.WithDatabase(b.server, name)
}

// replicaSet is n kiln up replicas on one database and shared directory.
type replicaSet struct {
	dsn   string
	procs []*serverProc
	c     []*client.Client
}

func (b *replicaBench) startReplicas(ctx context.Context, n, workers int, buildTime time.Duration) (*replicaSet, error) {
	dsn, err := b.freshDatabase(ctx)
	if err != nil {
		return nil, err
	}
	root, err := os.MkdirTemp(b.dir, "run-")
	if err != nil {
		return nil, err
	}
	rs := &replicaSet{dsn: dsn}
	for i := range n {
		data := filepath.Join(root, "r"+strconv.Itoa(i+1))
		if err := os.MkdirAll(data, 0o700); err != nil {
			return nil, err
		}
		p, _, err := startServer(ctx, serverSpec{exe: b.o.Exe, dataDir: data, database: dsn, args: []string{
			"--shared-dir", filepath.Join(root, "shared"), "--replica-id", "r" + strconv.Itoa(i+1), "--allow-file-sources",
			"--noop-executor", "--noop-build-time", buildTime.String(), "--build-workers", strconv.Itoa(workers),
			"--batch-window", "-1s"}})
		if err != nil {
			rs.stop()
			return nil, err
		}
		rs.procs = append(rs.procs, p)
		cfg, err := client.LoadConfig(filepath.Join(data, "client.yaml"))
		if err != nil {
			rs.stop()
			return nil, err
		}
		rs.c = append(rs.c, client.New(cfg))
	}
	return rs, nil
}

func (rs *replicaSet) stop() {
	for _, p := range rs.procs {
		p.stop()
	}
}

const benchNS = "bench"

// setup creates the namespace and components (one git repository for all
// of them; the no-op executor never reads it) and, with wait, waits for
// their first builds.
func (b *replicaBench) setup(ctx context.Context, rs *replicaSet, comps int, wait bool) error {
	repo := filepath.Join(b.dir, "repo")
	if _, err := os.Stat(repo); err != nil {
		if err := gitInit(repo); err != nil {
			return err
		}
	}
	c := rs.c[0]
	objs := []client.Object{{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": benchNS}},
		{"apiVersion": "kiln.dev/v1alpha1", "kind": "Application", "metadata": map[string]any{"name": "app", "namespace": benchNS}}}
	for i := range comps {
		objs = append(objs, client.Object{"apiVersion": "kiln.dev/v1alpha1", "kind": "Component",
			"metadata": map[string]any{"name": "c" + strconv.Itoa(i), "namespace": benchNS},
			"spec": map[string]any{"application": "app", "source": map[string]any{"git": map[string]any{"url": "file://" + repo}},
				"build": map[string]any{"pipelineRef": "script", "pollInterval": "0s"}}})
	}
	for _, obj := range objs {
		if err := createObject(ctx, c, obj); err != nil {
			return err
		}
	}
	if !wait {
		return nil
	}
	return waitQuiet(ctx, c, comps)
}

func gitInit(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"-c", "user.name=kiln", "-c", "user.email=kiln@example.com", "commit", "-q", "--allow-empty", "-m", "initial"}} {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("git %v: %w\n%s", args, err, out)
		}
	}
	return nil
}

func createObject(ctx context.Context, c *client.Client, obj client.Object) error {
	res, err := c.ResourceFor(ctx, obj.APIVersion(), obj.Kind())
	if err != nil {
		return err
	}
	if _, err := c.Create(ctx, res, obj.Namespace(), obj); err != nil {
		return fmt.Errorf("creating %s %s: %w", obj.Kind(), obj.Name(), err)
	}
	return nil
}

// waitQuiet waits until at least n builds exist and all have finished.
func waitQuiet(ctx context.Context, c *client.Client, n int) error {
	res, err := c.ResolveResource(ctx, "builds")
	if err != nil {
		return err
	}
	deadline := time.Now().Add(10 * time.Minute)
	for time.Now().Before(deadline) {
		l, err := c.List(ctx, res, benchNS, client.ListOptions{})
		if err == nil && len(l.Items) >= n && allFinished(l.Items) {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return errors.New("builds not finished after 10 minutes")
}

func allFinished(items []client.Object) bool {
	for _, b := range items {
		switch b.String("status", "phase") {
		case "Succeeded", "Failed", "Cancelled":
		default:
			return false
		}
	}
	return true
}

// tracker follows builds through a watch: when each was first seen
// running (or later) and finished.
type buildTracker struct {
	mu      sync.Mutex
	started map[string]time.Time
	ended   map[string]time.Time
	running int
	peak    int
}

func trackBuilds(ctx context.Context, c *client.Client) (*buildTracker, error) {
	res, err := c.ResolveResource(ctx, "builds")
	if err != nil {
		return nil, err
	}
	l, err := c.List(ctx, res, benchNS, client.ListOptions{})
	if err != nil {
		return nil, err
	}
	t := &buildTracker{started: map[string]time.Time{}, ended: map[string]time.Time{}}
	ready := make(chan struct{})
	go func() {
		close(ready)
		opts := client.WatchOptions{ListOptions: client.ListOptions{ResourceVersion: l.ResourceVersion}, Known: l.Items}
		for ev, err := range c.Watch(ctx, res, benchNS, opts) {
			if err != nil {
				return
			}
			t.see(ev.Object, time.Now())
		}
	}()
	<-ready
	return t, nil
}

func (t *buildTracker) see(b client.Object, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	name := b.Name()
	switch b.String("status", "phase") {
	case "Running":
		if _, ok := t.started[name]; !ok {
			t.started[name] = now
			t.running++
			t.peak = max(t.peak, t.running)
		}
	case "Succeeded", "Failed", "Cancelled":
		if _, ok := t.started[name]; !ok {
			t.started[name] = now
			t.running++
		}
		if _, ok := t.ended[name]; !ok {
			t.ended[name] = now
			t.running--
		}
	}
}

func (t *buildTracker) counts(names []string) (started, ended int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, n := range names {
		if _, ok := t.started[n]; ok {
			started++
		}
		if _, ok := t.ended[n]; ok {
			ended++
		}
	}
	return started, ended
}

func (t *buildTracker) waitEnded(ctx context.Context, names []string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if _, e := t.counts(names); e == len(names) {
			return nil
		}
		if err := pause(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
	_, e := t.counts(names)
	return fmt.Errorf("%d of %d builds finished within %v", e, len(names), within)
}

func pause(ctx context.Context, d time.Duration) error {
	if !sleepCtx(ctx, d) {
		return ctx.Err()
	}
	return nil
}

// createBuilds creates n builds named prefix-i over the replicas with 8
// writers and returns when each creation was answered.
func createBuilds(ctx context.Context, rs *replicaSet, prefix string, n, comps int) (map[string]time.Time, []string, error) {
	names := make([]string, n)
	created := map[string]time.Time{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 8 {
				name := fmt.Sprintf("%s-%d", prefix, i)
				names[i] = name
				obj := client.Object{"apiVersion": "kiln.dev/v1alpha1", "kind": "Build", "metadata": map[string]any{"name": name, "namespace": benchNS},
					"spec": map[string]any{"component": "c" + strconv.Itoa(i%comps), "reason": map[string]any{"type": "manual", "by": "kiln-bench-replicas"}}}
				if err := createObject(ctx, rs.c[i%len(rs.c)], obj); err != nil {
					errs <- err
					return
				}
				mu.Lock()
				created[name] = time.Now()
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	return created, names, <-errs
}

// startLatencies are the created → seen running latencies, sorted (ms).
func (t *buildTracker) startLatencies(created map[string]time.Time) []float64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []float64
	for name, c := range created {
		if s, ok := t.started[name]; ok {
			out = append(out, float64(s.Sub(c).Microseconds())/1000)
		}
	}
	sort.Float64s(out)
	return out
}

func pct(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
}

const benchComponents = 500

// dispatch measures n replicas: idle start latency (one build at a time),
// then throughput and start latency of Builds created at once.
func (b *replicaBench) dispatch(ctx context.Context, n int) (*DispatchRun, error) {
	b.logf("dispatch: %d replica(s), %d builds", n, b.o.Builds)
	rs, err := b.startReplicas(ctx, n, 64, 0)
	if err != nil {
		return nil, err
	}
	defer rs.stop()
	if err := b.setup(ctx, rs, benchComponents, true); err != nil {
		return nil, err
	}
	tr, err := trackBuilds(ctx, rs.c[0])
	if err != nil {
		return nil, err
	}
	var idle []float64
	for i := range 30 {
		created, names, err := createBuilds(ctx, rs, "idle"+strconv.Itoa(i), 1, benchComponents)
		if err != nil {
			return nil, err
		}
		if err := tr.waitEnded(ctx, names, time.Minute); err != nil {
			return nil, err
		}
		idle = append(idle, tr.startLatencies(created)...)
	}
	sort.Float64s(idle)
	start := time.Now()
	created, names, err := createBuilds(ctx, rs, "load", b.o.Builds, benchComponents)
	if err != nil {
		return nil, err
	}
	if err := tr.waitEnded(ctx, names, 10*time.Minute); err != nil {
		return nil, err
	}
	wall := time.Since(start)
	lat := tr.startLatencies(created)
	return &DispatchRun{Replicas: n, Builds: b.o.Builds, PerSecond: float64(b.o.Builds) / wall.Seconds(),
		StartP50: pct(lat, 0.5), StartP90: pct(lat, 0.9), StartP99: pct(lat, 0.99), IdleStartP50: pct(idle, 0.5)}, nil
}

// leases reads the live leases of a database: name -> holder.
func leases(ctx context.Context, dsn string) (map[string]string, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT name, holder FROM leases WHERE expires_ms > EXTRACT(EPOCH FROM clock_timestamp()) * 1000`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var name, holder string
		if err := rows.Scan(&name, &holder); err != nil {
			return nil, err
		}
		out[name] = holder
	}
	return out, rows.Err()
}

// takeover runs 200 builds of a minute on two replicas, kills the
// follower with SIGKILL and times until its builds are re-queued and
// running again, then kills the leader and times its replacement.
func (b *replicaBench) takeover(ctx context.Context) (*TakeoverRun, error) {
	b.logf("takeover: 2 replicas, 200 builds of 1 minute")
	rs, err := b.startReplicas(ctx, 2, 200, time.Minute)
	if err != nil {
		return nil, err
	}
	defer rs.stop()
	if err := b.setup(ctx, rs, benchComponents, true); err != nil {
		return nil, err
	}
	if _, _, err := createBuilds(ctx, rs, "hold", 200, benchComponents); err != nil {
		return nil, err
	}
	var ls map[string]string
	for ls == nil || countPrefix(ls, "build/") < 200 {
		if ls, err = leases(ctx, rs.dsn); err != nil {
			return nil, err
		}
		if err := pause(ctx, 100*time.Millisecond); err != nil {
			return nil, err
		}
	}
	leader := ls["kiln/leader"]
	victim := 1
	if strings.HasPrefix(leader, "r2#") {
		victim = 0
	}
	mine := buildsOf(ls, "r"+strconv.Itoa(victim+1)+"#")
	killed := time.Now()
	_ = rs.procs[victim].cmd.Process.Kill()
	_ = rs.procs[victim].cmd.Wait()
	run := &TakeoverRun{Builds: len(mine)}
	run.RequeuedAfter, run.RunningAfter, err = b.waitRetaken(ctx, rs.c[1-victim], mine, killed)
	if err != nil {
		return nil, err
	}
	return run, nil
}

func countPrefix(m map[string]string, prefix string) int {
	n := 0
	for k := range m {
		if strings.HasPrefix(k, prefix) {
			n++
		}
	}
	return n
}

// buildsOf names the builds whose claims the replica holds.
func buildsOf(ls map[string]string, replica string) map[string]bool {
	out := map[string]bool{}
	for name, h := range ls {
		if rest, ok := strings.CutPrefix(name, "build/"+benchNS+"/"); ok && strings.HasPrefix(h, replica) {
			out[rest] = true
		}
	}
	return out
}

// waitRetaken polls the survivor until every build of the dead replica
// was re-queued (interrupted) and then running again (attempt 2).
func (b *replicaBench) waitRetaken(ctx context.Context, c *client.Client, builds map[string]bool, since time.Time) (requeued, running float64, err error) {
	res, err := c.ResolveResource(ctx, "builds")
	if err != nil {
		return 0, 0, err
	}
	for time.Since(since) < 2*time.Minute {
		l, err := c.List(ctx, res, benchNS, client.ListOptions{})
		if err == nil {
			interrupted, again := 0, 0
			for _, o := range l.Items {
				if builds[o.Name()] && o.Get("status", "interrupted") == true {
					interrupted++
					if n, _ := o.Get("status", "attempts").(float64); n >= 2 {
						again++
					}
				}
			}
			if interrupted == len(builds) && requeued == 0 {
				requeued = time.Since(since).Seconds()
			}
			if again == len(builds) {
				return requeued, time.Since(since).Seconds(), nil
			}
		}
		if err := pause(ctx, 100*time.Millisecond); err != nil {
			return 0, 0, err
		}
	}
	return 0, 0, errors.New("the dead replica's builds were not running again within 2 minutes")
}

// concurrent runs Concurrent builds of Hold on one replica with that many
// build workers and measures the CPU of kiln and PostgreSQL per build.
func (b *replicaBench) concurrent(ctx context.Context) (*ConcurrentRun, error) {
	n := b.o.Concurrent
	b.logf("concurrent: %d builds of %v on one replica", n, b.o.Hold)
	rs, err := b.startReplicas(ctx, 1, n, b.o.Hold)
	if err != nil {
		return nil, err
	}
	defer rs.stop()
	kiln0, pg0 := cpuSeconds(rs.procs[0].cmd.Process.Pid), b.postgresCPU()
	start := time.Now()
	// The components' first builds are held too: they count among the n.
	if err := b.setup(ctx, rs, benchComponents, false); err != nil {
		return nil, err
	}
	tr, err := trackBuilds(ctx, rs.c[0])
	if err != nil {
		return nil, err
	}
	// The first builds of new components are throttled by the first-build
	// controller's host gate (one repository host): some start late.
	_, names, err := createBuilds(ctx, rs, "conc", n-benchComponents, benchComponents)
	if err != nil {
		return nil, err
	}
	if err := tr.waitEnded(ctx, names, b.o.Hold+30*time.Minute); err != nil {
		return nil, err
	}
	wall := time.Since(start)
	kiln, pg := cpuSeconds(rs.procs[0].cmd.Process.Pid)-kiln0, b.postgresCPU()-pg0
	tr.mu.Lock()
	peak, ended := tr.peak, len(tr.ended)
	tr.mu.Unlock()
	return &ConcurrentRun{Builds: ended, PeakRunning: peak, KilnCPU: kiln, PostgresCPU: pg,
		PerBuildMS: (kiln + pg) * 1000 / float64(ended), WallSeconds: wall.Seconds()}, nil
}

// cpuSeconds is a process's user + system CPU time from /proc.
func cpuSeconds(pid int) float64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(raw)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ
}

// postgresCPU is the CPU time of the throw-away cluster's processes (the
// postmaster and its children); 0 with --database.
func (b *replicaBench) postgresCPU() float64 {
	if b.cluster == nil {
		return 0
	}
	raw, err := os.ReadFile(filepath.Join(b.cluster.Dir, "data", "postmaster.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(raw), "\n", 2)[0]))
	total := cpuSeconds(pid)
	children, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	for _, c := range strings.Fields(string(children)) {
		if n, err := strconv.Atoi(c); err == nil {
			total += cpuSeconds(n)
		}
	}
	return total
}
