package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"

	"github.com/kilnbuild/kiln/internal/store/sqlstore"
)

// SoakOptions shape `kiln bench soak`.
type SoakOptions struct {
	// Exe is the kiln binary to run as the server (default: this process).
	Exe string
	// Dir holds the server's data directory and the git repositories; a
	// temporary directory, removed afterwards, when empty.
	Dir string
	// Database is passed to `kiln up --database` (default SQLite); it must
	// be an empty database.
	Database string
	// Builds is the number of builds to reach (default 10,000) within
	// Duration (default 1h): the driver aims at Builds/Duration.
	Builds   int
	Duration time.Duration
	// Interval is how often the server is sampled (default 1m).
	Interval time.Duration
	// Components is how many components to create (default 20), of which
	// Released are in an application that is integration-tested and
	// auto-released (default 2; 0: no tests, no releases).
	Components int
	Released   int
	// MaxBacklog is how many unfinished builds make the driver wait
	// (default 4 per core): beyond what the server sustains, the rate
	// achieved is reported, not a growing queue.
	MaxBacklog int
	// Drain bounds the wait for unfinished work after the last commit
	// (default 5m); what is still unfinished then is stuck.
	Drain time.Duration
	// Seed orders the commits (default 1).
	Seed   uint64
	Limits SoakLimits
	Log    io.Writer
}

// SoakLimits are the verdict's thresholds.
type SoakLimits struct {
	// RSSSlope is the largest RSS growth over the last three quarters, in
	// MiB per 1,000 builds (default 5).
	RSSSlope float64 `json:"rssSlopeMiBPer1000Builds"`
	// LatencyGrowth is the largest last-quarter p99 / first-quarter p99
	// (default 2); differences under APISlack (10 ms) or BuildSlack
	// (250 ms) pass whatever the ratio.
	LatencyGrowth float64       `json:"latencyGrowth"`
	APISlack      time.Duration `json:"apiSlack"`
	BuildSlack    time.Duration `json:"buildSlack"`
	// WorkDirBytes is the most the work directory may hold when idle
	// (default 1 MiB).
	WorkDirBytes int64 `json:"workDirBytes"`
	// Unaccounted is the largest share of the data directory's growth
	// outside the named stores (default 0.05).
	Unaccounted float64 `json:"unaccounted"`
}

func (o *SoakOptions) defaults() error {
	if o.Exe == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("finding the kiln binary: %w", err)
		}
		o.Exe = exe
	}
	setDefault(&o.Builds, 10000)
	setDefault(&o.Duration, time.Hour)
	setDefault(&o.Interval, time.Minute)
	setDefault(&o.Components, 20)
	setDefault(&o.MaxBacklog, 4*runtime.NumCPU())
	setDefault(&o.Drain, 5*time.Minute)
	setDefault(&o.Seed, 1)
	setDefault(&o.Limits.RSSSlope, 5)
	setDefault(&o.Limits.LatencyGrowth, 2)
	setDefault(&o.Limits.APISlack, 10*time.Millisecond)
	setDefault(&o.Limits.BuildSlack, 250*time.Millisecond)
	setDefault(&o.Limits.WorkDirBytes, 1<<20)
	setDefault(&o.Limits.Unaccounted, 0.05)
	if o.Log == nil {
		o.Log = io.Discard
	}
	return o.validate()
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

func (o *SoakOptions) validate() error {
	for flag, v := range map[string]float64{"--builds": float64(o.Builds), "--duration": o.Duration.Seconds(),
		"--interval": o.Interval.Seconds(), "--max-backlog": float64(o.MaxBacklog), "--drain": o.Drain.Seconds()} {
		if v < 0 {
			return fmt.Errorf("%s must be positive", flag)
		}
	}
	switch {
	case o.Interval > o.Duration:
		return fmt.Errorf("--interval %s is longer than --duration %s: nothing would be sampled", o.Interval, o.Duration)
	case o.Components < 2:
		return fmt.Errorf("--components %d: at least 2 (a library and a component requiring it)", o.Components)
	case o.Released < 0 || o.Released > o.Components-2:
		return fmt.Errorf("--released %d: between 0 and --components - 2 (%d); the rest form the dependency graph", o.Released, o.Components-2)
	}
	for _, tool := range []string{"git", "bwrap"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s is not installed: every build fetches with git and runs in bubblewrap (install git and bubblewrap)", tool)
		}
	}
	return nil
}

// RunSoak starts a `kiln up` process, sets up the components, drives
// builds at Builds/Duration while sampling the server every Interval,
// drains, stops the server and returns the report with its verdict. An
// error means the soak could not run; a failed verdict is in the report.
func RunSoak(ctx context.Context, o SoakOptions) (*SoakReport, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	if o.Dir == "" {
		dir, err := os.MkdirTemp("", "kiln-soak-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		o.Dir = dir
	}
	// The repositories' file:// URLs need absolute paths.
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, fmt.Errorf("--dir %s: %w", o.Dir, err)
	}
	o.Dir = dir
	s, err := newSoak(ctx, o)
	if err != nil {
		return nil, err
	}
	defer s.srv.stop()
	return s.run(ctx)
}

// soak is one run.
type soak struct {
	o       SoakOptions
	srv     *serverProc
	dataDir string
	dbURL   string
	comps   []*soakComponent
	rep     *SoakReport
}

func newSoak(ctx context.Context, o SoakOptions) (*soak, error) {
	dataDir := filepath.Join(o.Dir, "data")
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, err
	}
	if entries, _ := os.ReadDir(dataDir); len(entries) > 0 {
		return nil, fmt.Errorf("%s is not empty: the soak needs a fresh data directory", dataDir)
	}
	// gctrace makes the Go runtime log each collection's live heap and
	// goroutine stacks to the server's log, where the sampler reads them:
	// the server has no debug endpoint, and needs none for this.
	srv, _, err := startServer(ctx, serverSpec{exe: o.Exe, dataDir: dataDir, database: o.Database,
		args: []string{"--allow-file-sources"}, env: []string{"GODEBUG=gctrace=1"}})
	if err != nil {
		return nil, err
	}
	s := &soak{o: o, srv: srv, dataDir: dataDir, dbURL: o.Database,
		comps: soakGraph(o.Components, o.Released), rep: &SoakReport{Backend: backendName(o.Database)}}
	if s.dbURL == "" {
		s.dbURL = filepath.Join(dataDir, "kiln.db")
	}
	return s, nil
}

func (s *soak) logf(format string, args ...any) {
	fmt.Fprintf(s.o.Log, "soak: "+format+"\n", args...)
}

// readDB reads the database's usage (nil and logged if it cannot).
func (s *soak) readDB(ctx context.Context) *sqlstore.Usage {
	u, err := sqlstore.ReadUsage(ctx, s.dbURL)
	if err != nil {
		s.logf("reading database usage: %v", err)
	}
	return u
}
