package buildroot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/kilnbuild/kiln/internal/sandbox"
)

// PackagesDir is where the package files are mounted while they are
// downloaded and installed.
const PackagesDir = "/kiln/packages"

// Format says how one packaging format's files are downloaded and
// installed.
type Format struct {
	// Name is the format, e.g. "deb".
	Name string
	// Fetch is the command, run in the base image with network, that
	// downloads every package of pkgs (those with a URL) into PackagesDir.
	// Kiln verifies each file's SHA-256 afterwards.
	Fetch func(pkgs []Package) []string
	// Install is the command, run without network with the new buildroot
	// as its writable root, that installs the given files of PackagesDir:
	// one list per stage (Package.Stage), each installed completely before
	// the next.
	Install func(stages [][]string) []string
	// Env is the environment of both commands.
	Env []string
}

// Cache composes buildroots and keeps them by key, one directory per
// namespace (Dir/<namespace>/<key>), within MaxBytes: a buildroot not in
// use is evicted, least recently used first, when the cache outgrows it.
// A buildroot is in use from Compose until its Result is released.
type Cache struct {
	// Dir holds the composed buildroots.
	Dir string
	// Runner runs the download and install steps in the sandbox.
	Runner sandbox.Runner
	// Limits bound each step (zero: the sandbox's defaults).
	Limits sandbox.Limits
	// MaxBytes bounds the disk the buildroots take (0: unbounded): each
	// new buildroot is measured once, those found on disk at start-up at
	// the first composition. While every buildroot is in use the cache
	// may exceed it; it shrinks again as they are released.
	MaxBytes int64
	// Log receives what eviction does (nil: nothing is logged).
	Log *slog.Logger

	mu       sync.Mutex
	locks    map[string]*sync.Mutex
	idx      *index
	evicting sync.Mutex
	// removeAll removes an evicted entry (nil: os.RemoveAll; tests
	// interrupt it).
	removeAll func(string) error
}

// Request is one buildroot to compose.
type Request struct {
	// Namespace owns the buildroot; its cache is its own.
	Namespace string
	// Base is the base image's digest and BaseRoot its unpacked root
	// filesystem (read-only: it is copied, never written).
	Base, BaseRoot string
	// Packages are installed into the copy; a package with a Path is
	// local, the others are downloaded from their URL.
	Packages []Package
	Format   Format
	// Log receives the steps' output and Kiln's notes.
	Log io.Writer
}

// Result is a composed (or reused) buildroot. RootFS stays until Release
// is called: the caller must call it once it no longer uses RootFS.
type Result struct {
	Key    string
	RootFS string
	// Cached is true when an earlier composition was reused.
	Cached   bool
	Duration time.Duration

	lease *lease
}

// ComposeError is a buildroot that could not be composed: a download or
// the installation failed. Nothing was cached.
type ComposeError struct {
	Key    string
	Reason string
}

func (e *ComposeError) Error() string {
	return "the buildroot " + e.Key + " failed to compose: " + e.Reason
}

// Compose returns the buildroot of req, composing it unless the namespace
// has it already. Concurrent requests for one key compose it once. The
// buildroot is in use (never evicted) until the Result is released; a new
// one may evict others to keep the cache within MaxBytes.
func (c *Cache) Compose(ctx context.Context, req Request) (Result, error) {
	res, err := c.get(ctx, req)
	if err == nil && !res.Cached {
		c.evict(req.Log)
	}
	return res, err
}

func (c *Cache) get(ctx context.Context, req Request) (Result, error) {
	start := time.Now()
	key := Key(req.Base, req.Packages)
	unlock := c.lock(req.Namespace + "/" + key)
	defer unlock()
	name := strings.Replace(key, ":", "-", 1)
	if l := c.acquire(req.Namespace, name); l != nil {
		fmt.Fprintf(req.Log, "==> buildroot %s: reused (%d packages on base %s)\n", key, len(req.Packages), req.Base)
		return Result{Key: key, RootFS: c.path(l.e), Cached: true, Duration: time.Since(start), lease: l}, nil
	}
	fmt.Fprintf(req.Log, "==> buildroot %s: composing %d packages on base %s\n", key, len(req.Packages), req.Base)
	final := filepath.Join(c.Dir, req.Namespace, name)
	if err := c.compose(ctx, req, key, final); err != nil {
		return Result{Key: key}, err
	}
	size, err := diskUsage(final)
	if err != nil {
		c.logger().Warn("measuring a new buildroot", "err", err)
	}
	l := c.add(req.Namespace, name, size)
	d := time.Since(start)
	fmt.Fprintf(req.Log, "==> buildroot %s: composed in %.1fs (%s)\n", key, d.Seconds(), humanize.IBytes(uint64(size)))
	return Result{Key: key, RootFS: final, Duration: d, lease: l}, nil
}

func (c *Cache) path(e *entry) string { return filepath.Join(c.Dir, e.ns, e.name) }

func (c *Cache) lock(k string) func() {
	c.mu.Lock()
	if c.locks == nil {
		c.locks = map[string]*sync.Mutex{}
	}
	m, ok := c.locks[k]
	if !ok {
		m = &sync.Mutex{}
		c.locks[k] = m
	}
	c.mu.Unlock()
	m.Lock()
	return m.Unlock
}

// compose copies the base, places and downloads the package files,
// installs them in the sandbox and moves the result into place.
func (c *Cache) compose(ctx context.Context, req Request, key, final string) error {
	dir := filepath.Dir(final)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(dir, ".compose-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	w := &work{tmp: tmp, root: filepath.Join(tmp, "root"), pkgs: filepath.Join(tmp, "packages"), req: req, key: key, limits: c.Limits}
	if err := w.prepare(ctx); err != nil {
		return err
	}
	if err := w.run(ctx, c.Runner); err != nil {
		return err
	}
	if err := os.Chmod(w.root, 0o755); err != nil {
		return err
	}
	return os.Rename(w.root, final)
}

// work is one composition in progress, in tmp.
type work struct {
	tmp, root, pkgs string
	req             Request
	key             string
	limits          sandbox.Limits
}

// prepare copies the base and the local package files.
func (w *work) prepare(ctx context.Context) error {
	cp := exec.CommandContext(ctx, "cp", "-a", "--reflink=auto", w.req.BaseRoot, w.root)
	if out, err := cp.CombinedOutput(); err != nil {
		return fmt.Errorf("copying the base %s: %v: %s", w.req.Base, err, strings.TrimSpace(string(out)))
	}
	if err := os.Mkdir(w.pkgs, 0o755); err != nil {
		return err
	}
	for _, p := range w.req.Packages {
		if p.Path == "" {
			continue
		}
		if err := copyVerified(p, filepath.Join(w.pkgs, p.File)); err != nil {
			return &ComposeError{Key: w.key, Reason: err.Error()}
		}
	}
	return nil
}

// run downloads and installs the packages as one leased sandbox user.
func (w *work) run(ctx context.Context, r sandbox.Runner) (err error) {
	if l, ok := r.(sandbox.Leaser); ok {
		lease, lerr := l.Lease()
		if lerr != nil {
			return fmt.Errorf("composing the buildroot: %w", lerr)
		}
		defer func() { err = errors.Join(err, lease.Release()) }()
		if err := lease.Own(w.tmp); err != nil {
			return err
		}
		r = lease
	}
	if err := w.fetch(ctx, r); err != nil {
		return err
	}
	return w.install(ctx, r)
}

func (w *work) fetch(ctx context.Context, r sandbox.Runner) error {
	var remote []Package
	for _, p := range w.req.Packages {
		if p.Path == "" {
			remote = append(remote, p)
		}
	}
	if len(remote) == 0 {
		return nil
	}
	fmt.Fprintf(w.req.Log, "==> buildroot: downloading %d packages (network)\n", len(remote))
	step := sandbox.Step{RootFS: w.req.BaseRoot, Command: w.req.Format.Fetch(remote), Env: w.req.Format.Env, WorkDir: PackagesDir,
		Mounts: []sandbox.Mount{{Source: w.pkgs, Target: PackagesDir, Writable: true, Within: w.tmp}}, Network: true}
	if err := w.step(ctx, r, "downloading the packages", step); err != nil {
		return err
	}
	for _, p := range remote {
		if err := verifyFile(filepath.Join(w.pkgs, p.File), p); err != nil {
			return &ComposeError{Key: w.key, Reason: err.Error()}
		}
	}
	return nil
}

func (w *work) install(ctx context.Context, r sandbox.Runner) error {
	mounts, err := sandbox.WritableRoot(w.root)
	if err != nil {
		return err
	}
	mounts = append(mounts, sandbox.Mount{Source: w.pkgs, Target: PackagesDir, Within: w.tmp})
	stages := installStages(w.req.Packages)
	fmt.Fprintf(w.req.Log, "==> buildroot: installing %d packages in %d stage(s) (no network)\n", len(w.req.Packages), len(stages))
	step := sandbox.Step{RootFS: w.root, Command: w.req.Format.Install(stages), Env: w.req.Format.Env, WorkDir: "/",
		Mounts: mounts}
	return w.step(ctx, r, "installing the packages", step)
}

// installStages lists the packages' files of PackagesDir by stage, in
// order, each stage's sorted; stages without packages are skipped.
func installStages(pkgs []Package) [][]string {
	by := map[int][]string{}
	for _, p := range Sorted(pkgs) {
		by[p.Stage] = append(by[p.Stage], PackagesDir+"/"+p.File)
	}
	keys := slices.Sorted(maps.Keys(by))
	stages := make([][]string, 0, len(keys))
	for _, k := range keys {
		stages = append(stages, by[k])
	}
	return stages
}

func (w *work) step(ctx context.Context, r sandbox.Runner, what string, s sandbox.Step) error {
	s.Limits, s.Stdout, s.Stderr = w.limits, w.req.Log, w.req.Log
	res, err := r.Run(ctx, s)
	if err != nil {
		return &ComposeError{Key: w.key, Reason: what + ": " + err.Error()}
	}
	if res.ExitCode != 0 || res.Reason != "" {
		reason := fmt.Sprintf("%s: exit code %d", what, res.ExitCode)
		if res.Reason != "" {
			reason = what + ": " + res.Reason
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &ComposeError{Key: w.key, Reason: reason + " (see the log above)"}
	}
	return nil
}
