package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Enforcement values.
const (
	EnforcedCgroupV1 = "cgroup-v1"
	EnforcedRlimit   = "rlimit"
	EnforcedNone     = "none"
)

// DefaultLimits apply to the zero fields of a step's Limits unless
// Options.Defaults overrides them.
var DefaultLimits = Limits{
	Memory:    4 << 30,
	Processes: 4096,
	WallTime:  2 * time.Hour,
	Output:    64 << 20,
}

// Options configure a Bubblewrap runner; the zero value is usable.
type Options struct {
	// Path is the bwrap binary; "" looks "bwrap" up in PATH.
	Path string
	// Defaults fill the zero fields of each step's Limits (themselves
	// defaulting to DefaultLimits).
	Defaults Limits
	// UID and GID a step runs as inside the sandbox; 0 means 1000.
	UID, GID int
	// HostIDs is the range of host uids and gids steps run as when the
	// server runs as root, one per run (see Lease); the zero value is
	// DefaultHostIDs. A range that overlaps an account (/etc/passwd,
	// /etc/group, /etc/subuid, /etc/subgid) is refused.
	HostIDs HostIDs
	// HostUID and HostGID, when non-zero, replace the leased ids: every
	// step of every run runs as that one host user. For tests and special
	// setups; the per-run ids of HostIDs isolate runs from each other.
	HostUID, HostGID int
	// Slirp4netns is the slirp4netns binary that connects Network steps'
	// own network namespaces to the outside; "" looks it up in PATH.
	Slirp4netns string
	// DisableCgroups forces the rlimit fallback even where cgroups work.
	DisableCgroups bool
	// CgroupParent is the cgroup, relative to each v1 hierarchy's root, under
	// which per-step cgroups are made; "" means "<this process's cgroup>/kiln".
	CgroupParent string
	// Protected host paths (the server's data dir, its keys) may not be
	// mounted into a step, wholly or in part.
	Protected []string
	// DisableSeccomp runs steps without the default seccomp filter. For
	// debugging only (to strace a step, or to tell whether a failure comes
	// from the filter); KILN_SANDBOX_SECCOMP=off in the server's environment
	// does the same without a code change.
	DisableSeccomp bool
}

// Bubblewrap runs steps with bubblewrap (bwrap). It is safe for concurrent
// use.
type Bubblewrap struct {
	path      string
	opts      Options
	defaults  Limits
	hostRoot  []string // bwrap arguments composing the host-root filesystem
	dir       string   // the runner's files: etc/ and stage/
	etcDir    string   // generated passwd, group, hosts, resolv.conf
	stage     *stage   // where bind sources are staged, as root
	stageNote string   // why there is no stage, as root
	cgroups   *cgroupV1
	enforced  Enforcement
	protected []string
	seccomp   seccompFilter
	pool      *idPool // host ids leased to runs when root
	network   netHelper
}

var _ Runner = (*Bubblewrap)(nil)
var _ Enforcer = (*Bubblewrap)(nil)

// NewBubblewrap checks that bwrap is installed and works, and probes how
// limits can be enforced on this machine. Close releases its files.
func NewBubblewrap(opts Options) (*Bubblewrap, error) {
	b, err := configure(opts)
	if err != nil {
		return nil, err
	}
	if err := b.prepare(); err != nil {
		_ = b.Close()
		return nil, err
	}
	return b, nil
}

func configure(opts Options) (*Bubblewrap, error) {
	path, err := lookBwrap(opts.Path)
	if err != nil {
		return nil, err
	}
	b := &Bubblewrap{path: path, opts: opts, defaults: fillLimits(opts.Defaults, DefaultLimits)}
	if b.opts.UID == 0 {
		b.opts.UID = 1000
	}
	if b.opts.GID == 0 {
		b.opts.GID = 1000
	}
	if b.protected, err = cleanPaths(opts.Protected); err != nil {
		return nil, err
	}
	if b.seccomp, err = newSeccompFilter(opts.DisableSeccomp); err != nil {
		return nil, err
	}
	if err := b.configureHostIDs(); err != nil {
		return nil, err
	}
	b.network = lookSlirp(opts.Slirp4netns)
	return b, checkProtected(b.protected)
}

// configureHostIDs checks the range steps run as; it is used only as root
// and without HostUID.
func (b *Bubblewrap) configureHostIDs() error {
	if b.opts.HostIDs == (HostIDs{}) {
		b.opts.HostIDs = DefaultHostIDs
	}
	if b.opts.HostUID < 0 || b.opts.HostGID < 0 {
		return fmt.Errorf("host user %d:%d: ids must not be negative", b.opts.HostUID, b.opts.HostGID)
	}
	b.pool = newIDPool(b.opts.HostIDs)
	if b.opts.HostUID != 0 || os.Geteuid() != 0 {
		return nil
	}
	return b.opts.HostIDs.check(accountFiles)
}

// prepare writes the generated /etc files, composes the host root, chooses
// how limits are enforced and runs a first step.
func (b *Bubblewrap) prepare() error {
	var err error
	if b.dir, err = os.MkdirTemp("", "kiln-sandbox-"); err != nil {
		return fmt.Errorf("creating the sandbox's files: %w", err)
	}
	if err := os.Chmod(b.dir, 0o711); err != nil {
		return fmt.Errorf("creating the sandbox's files: %w", err)
	}
	b.etcDir = filepath.Join(b.dir, "etc")
	if err := writeEtc(b.etcDir, b.opts.UID, b.opts.GID); err != nil {
		return err
	}
	if os.Geteuid() == 0 { // steps run as other users: stage their sources
		if b.stage, err = newStage(b.dir); err != nil {
			b.stageNote = fmt.Sprintf("mount sources are not staged (%v): they must be searchable by the sandbox's host users", err)
		}
	}
	if b.hostRoot, err = hostRootArgs(); err != nil {
		return err
	}
	b.probeLimits()
	return b.probe()
}

func lookBwrap(path string) (string, error) {
	if path == "" {
		path = "bwrap"
	}
	p, err := exec.LookPath(path)
	if err != nil {
		return "", fmt.Errorf("finding bubblewrap: %w (install the Debian package "+
			"\"bubblewrap\": apt-get install bubblewrap)", err)
	}
	return p, nil
}

// probeLimits chooses cgroups when they can be created, else rlimits.
func (b *Bubblewrap) probeLimits() {
	if b.opts.DisableCgroups {
		b.useRlimits("cgroups disabled by configuration")
		return
	}
	cg, err := newCgroupV1(b.opts.CgroupParent)
	if err != nil {
		b.useRlimits(err.Error())
		return
	}
	b.cgroups = cg
	b.enforced = Enforcement{Memory: EnforcedCgroupV1, Processes: EnforcedCgroupV1}
}

// useRlimits falls back to rlimits. RLIMIT_NPROC binds because steps never
// run as host uid 0; it counts every process of the step's host user, so
// all steps of one run share it.
func (b *Bubblewrap) useRlimits(why string) {
	b.cgroups = nil
	b.enforced = Enforcement{Memory: EnforcedRlimit, Processes: EnforcedRlimit, Note: why}
}

// probe runs "true" in the host-root sandbox, falling back from cgroups to
// rlimits if a step cannot run with cgroups.
func (b *Bubblewrap) probe() error {
	err := b.probeRun()
	if err != nil && b.cgroups != nil {
		b.useRlimits(fmt.Sprintf("running a step in a cgroup failed: %v", err))
		err = b.probeRun()
	}
	if err != nil {
		return fmt.Errorf("bubblewrap cannot run a step here: %w", err)
	}
	return nil
}

func (b *Bubblewrap) probeRun() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := b.Run(ctx, Step{Command: []string{"true"}})
	if err == nil && (res.ExitCode != 0 || res.Reason != "") {
		err = fmt.Errorf("\"true\" exited %d (%s)", res.ExitCode, res.Reason)
	}
	return err
}

// Name identifies the backend in provenance.
func (b *Bubblewrap) Name() string { return "bubblewrap" }

// Enforcement reports how memory and process limits are enforced, which
// seccomp filter steps run under, which host users they run as and what
// connects network steps.
func (b *Bubblewrap) Enforcement() Enforcement {
	e := b.enforced
	e.Seccomp = b.seccomp.digest
	e.HostUser = b.hostUserNote()
	e.Network = b.network.describe()
	for _, n := range []string{b.seccomp.note, b.stageNote} {
		if n != "" {
			e.Note = strings.TrimPrefix(e.Note+"; "+n, "; ")
		}
	}
	return e
}

// Close removes the runner's generated files.
func (b *Bubblewrap) Close() error {
	err := b.stage.close()
	if b.dir != "" {
		err = errors.Join(err, wrapErr("removing sandbox files", os.RemoveAll(b.dir)))
	}
	return err
}

func (b *Bubblewrap) hostUserNote() string {
	switch {
	case b.opts.HostUID != 0:
		return fmt.Sprintf("uid %d (Options.HostUID)", b.opts.HostUID)
	case os.Geteuid() != 0:
		return fmt.Sprintf("server's own uid %d", os.Geteuid())
	}
	return "per-run uid from " + b.opts.HostIDs.String()
}

// Run runs one step as a host user leased for this step alone; its
// writable mounts are lent to that user for the step (see Lease.Own) and
// given back afterwards. Steps of one run that share a workspace should run
// through one Lease instead.
func (b *Bubblewrap) Run(ctx context.Context, step Step) (Result, error) {
	l, err := b.Lease()
	if err != nil {
		return Result{}, err
	}
	res, err := b.lendAndRun(ctx, l, step)
	return res, errors.Join(err, l.Release())
}

func (b *Bubblewrap) lendAndRun(ctx context.Context, l Lease, step Step) (Result, error) {
	for _, m := range step.Mounts {
		if !m.Writable {
			continue
		}
		src, err := b.checkMount(m)
		if err != nil {
			return Result{}, err
		}
		if err := l.Own(src); err != nil {
			return Result{}, err
		}
	}
	return l.Run(ctx, step)
}

// run runs one step as user.
func (b *Bubblewrap) run(ctx context.Context, step Step, user hostUser) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("step not started: %w", err)
	}
	if len(step.Command) == 0 {
		return Result{}, errors.New("step has no command")
	}
	if step.Network && b.network.err != nil {
		return Result{}, b.network.err
	}
	lim := fillLimits(step.Limits, b.defaults)
	cl, err := b.commandLine(step, lim, user)
	if err != nil {
		return Result{}, err
	}
	e, err := b.start(cl, step, lim, user)
	if err != nil {
		return Result{}, err
	}
	return e.supervise(ctx, lim.WallTime)
}

func fillLimits(l, d Limits) Limits {
	if l.Memory <= 0 {
		l.Memory = d.Memory
	}
	if l.Processes <= 0 {
		l.Processes = d.Processes
	}
	if l.WallTime <= 0 {
		l.WallTime = d.WallTime
	}
	if l.Output <= 0 {
		l.Output = d.Output
	}
	return l
}

func cleanPaths(paths []string) ([]string, error) {
	out := make([]string, 0, len(paths))
	for _, p := range paths {
		if !filepath.IsAbs(p) {
			return nil, fmt.Errorf("protected path %q is not absolute", p)
		}
		if r, err := filepath.EvalSymlinks(p); err == nil {
			out = append(out, r)
		}
		out = append(out, filepath.Clean(p))
	}
	return out, nil
}
