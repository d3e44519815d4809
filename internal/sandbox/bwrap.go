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
	// HostUID and HostGID, when non-zero, run bwrap itself as that host user
	// (through an unprivileged user namespace). Without cgroups this is what
	// makes RLIMIT_NPROC bind when the server runs as root. Writable mounts
	// must then be writable, and every mount reachable, by that user.
	HostUID, HostGID int
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
	etcDir    string   // generated passwd, group, hosts
	cgroups   *cgroupV1
	enforced  Enforcement
	protected []string
	seccomp   seccompFilter
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
	return b, checkProtected(b.protected)
}

// prepare writes the generated /etc files, composes the host root, chooses
// how limits are enforced and runs a first step.
func (b *Bubblewrap) prepare() error {
	var err error
	if b.etcDir, err = writeEtc(b.opts.UID, b.opts.GID); err != nil {
		return err
	}
	if b.hostRoot, err = hostRootArgs(b.etcDir); err != nil {
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

func (b *Bubblewrap) useRlimits(why string) {
	b.cgroups = nil
	b.enforced = Enforcement{Memory: EnforcedRlimit, Processes: EnforcedRlimit, Note: why}
	if uid, _ := b.hostIDs(); uid == 0 {
		b.enforced.Processes = EnforcedNone
		b.enforced.Note += "; RLIMIT_NPROC does not bind host uid 0 (set HostUID)"
	}
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

// hostIDs are the host user and group bwrap runs as.
func (b *Bubblewrap) hostIDs() (uid, gid int) {
	if b.opts.HostUID == 0 {
		return os.Geteuid(), os.Getegid()
	}
	if b.opts.HostGID == 0 {
		return b.opts.HostUID, b.opts.HostUID
	}
	return b.opts.HostUID, b.opts.HostGID
}

// Name identifies the backend in provenance.
func (b *Bubblewrap) Name() string { return "bubblewrap" }

// Enforcement reports how memory and process limits are enforced, and
// which seccomp filter steps run under.
func (b *Bubblewrap) Enforcement() Enforcement {
	e := b.enforced
	e.Seccomp = b.seccomp.digest
	if b.seccomp.note != "" {
		e.Note = strings.TrimPrefix(e.Note+"; "+b.seccomp.note, "; ")
	}
	return e
}

// Close removes the runner's generated files.
func (b *Bubblewrap) Close() error {
	if err := os.RemoveAll(b.etcDir); err != nil {
		return fmt.Errorf("removing sandbox files: %w", err)
	}
	return nil
}

// Run runs one step; see Runner.
func (b *Bubblewrap) Run(ctx context.Context, step Step) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("step not started: %w", err)
	}
	if len(step.Command) == 0 {
		return Result{}, errors.New("step has no command")
	}
	lim := fillLimits(step.Limits, b.defaults)
	args, files, err := b.args(step, lim)
	if err != nil {
		return Result{}, err
	}
	e, err := b.start(args, files, step, lim)
	closeAll(files...)
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
