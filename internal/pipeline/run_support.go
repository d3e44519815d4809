package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/kilnbuild/kiln/internal/sandbox"
	"github.com/kilnbuild/kiln/internal/tenantfs"
)

// runDirs is the layout of RunOptions.WorkspaceDir:
//
//	<workspace>/                      one per pipeline workspace
//	.kiln/prefetch/                   /kiln/prefetch
//	.kiln/tasks/<task>/results/       /tekton/results
//	.kiln/tasks/<task>/scripts/       /tekton/scripts
//	.kiln/tasks/<task>/home/          /tekton/home (and home/prefetch for prefetch steps)
type runDirs struct {
	root string
	// owner, when set, is the host user the run's steps run as: the
	// directories made for them while they run (a missing sub-path) are
	// that user's.
	owner *hostUser
}

// hostUser is a sandbox lease's host user.
type hostUser struct{ uid, gid int }

func (d runDirs) workspace(name string) string { return filepath.Join(d.root, name) }
func (d runDirs) prefetch() string             { return filepath.Join(d.root, ".kiln", "prefetch") }
func (d runDirs) task(name string) string      { return filepath.Join(d.root, ".kiln", "tasks", name) }
func (d runDirs) results(task string) string   { return filepath.Join(d.task(task), "results") }
func (d runDirs) scripts(task string) string   { return filepath.Join(d.task(task), "scripts") }
func (d runDirs) home(task string) string      { return filepath.Join(d.task(task), "home") }

// prepareTask creates the task's directories (idempotent).
func (d runDirs) prepareTask(t *PlanTask) error {
	for _, dir := range []string{d.results(t.Name), d.scripts(t.Name), filepath.Join(d.home(t.Name), "prefetch")} {
		if _, err := d.realDir(dir, true); err != nil {
			return fmt.Errorf("creating task directory: %w", err)
		}
	}
	return nil
}

// realDir checks that every component of dir (a path under the run's
// root) below the root is a real directory; with create, it makes those
// that are missing. Steps
// write in the run's directories: a link one of them planted (say a
// workspace's sub-path made a link to a host directory) must never become
// the source of a bind mount.
func (d runDirs) realDir(dir string, create bool) (string, error) {
	rel, err := filepath.Rel(d.root, dir)
	if err != nil {
		return "", err
	}
	run, err := tenantfs.Open(d.root, "the run's workspaces")
	if err != nil {
		return "", err
	}
	defer run.Close()
	if create && d.owner != nil {
		return run.DirPathFor(filepath.ToSlash(rel), d.owner.uid, d.owner.gid)
	}
	return run.DirPath(filepath.ToSlash(rel), create)
}

// writeScript writes a step's script and returns its path in the sandbox.
// A script without #! runs with /bin/sh and set -e, as in Tekton.
func (d runDirs) writeScript(task string, i int, s *PlanStep) (string, error) {
	script := s.Script
	if !strings.HasPrefix(script, "#!") {
		script = "#!/bin/sh\nset -e\n" + script
	}
	name := strconv.Itoa(i) + "-" + s.Name
	if err := os.WriteFile(filepath.Join(d.scripts(task), name), []byte(script), 0o755); err != nil {
		return "", fmt.Errorf("writing the script: %w", err)
	}
	return ScriptsDir + "/" + name, nil
}

// mounts are a step's mounts: its task's workspaces (read-only for prefetch
// steps), results, scripts, home and the prefetch directory (writable for
// prefetch steps only). Every source is a real directory of the run: a
// sub-path that a step turned into a symbolic link is refused, and the
// sandbox resolves each source again inside its Within directory when it
// mounts it (a link swapped in by a step running in parallel meanwhile
// cannot lead the mount out of the workspace).
func (d runDirs) mounts(t *PlanTask, prefetch bool) ([]sandbox.Mount, error) {
	var ms []sandbox.Mount
	for _, w := range t.Workspaces {
		if w.Workspace == "" {
			continue
		}
		src := filepath.Join(d.workspace(w.Workspace), filepath.FromSlash(w.SubPath))
		ms = append(ms, sandbox.Mount{Source: src, Target: w.MountPath, Writable: !w.ReadOnly && !prefetch, Within: d.workspace(w.Workspace)})
	}
	home := d.home(t.Name)
	if prefetch {
		home = filepath.Join(home, "prefetch")
	}
	ms = append(ms,
		sandbox.Mount{Source: d.results(t.Name), Target: ResultsDir, Writable: true, Within: d.task(t.Name)},
		sandbox.Mount{Source: d.scripts(t.Name), Target: ScriptsDir, Within: d.task(t.Name)},
		sandbox.Mount{Source: home, Target: HomeDir, Writable: true, Within: d.task(t.Name)},
		sandbox.Mount{Source: d.prefetch(), Target: PrefetchDir, Writable: prefetch, Within: d.root},
	)
	for i := range ms {
		src, err := d.realDir(ms[i].Source, true)
		if err != nil {
			return nil, fmt.Errorf("mounting %s: %w", ms[i].Target, err)
		}
		ms[i].Source = src
	}
	return ms, nil
}

// copyTree copies src into dst (created), keeping modes and symlinks (as
// links, never followed). The directory skip (the run's own directory,
// when it is inside src) is left out. Reads stay inside src and writes
// inside dst: a link an earlier run left in dst is replaced, not written
// through.
func copyTree(src, dst, skip string) error {
	same, err := samePath(src, dst)
	if err != nil || same {
		return err
	}
	from, err := tenantfs.Open(src, "the source directory")
	if err != nil {
		return err
	}
	defer from.Close()
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	to, err := os.OpenRoot(dst)
	if err != nil {
		return err
	}
	defer to.Close()
	return from.WalkDir(".", func(rel string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if de.IsDir() && rel != "." {
			if inside, _ := samePath(filepath.Join(src, rel), skip); inside {
				return filepath.SkipDir
			}
		}
		return copyEntry(from, to, rel, de)
	})
}

// copyEntry copies one entry of a walk of from into to.
func copyEntry(from *tenantfs.Tree, to *os.Root, rel string, de fs.DirEntry) error {
	info, err := de.Info()
	if err != nil {
		return err
	}
	switch {
	case de.IsDir():
		if fi, err := to.Lstat(rel); err == nil && !fi.IsDir() {
			if err := removeFile(to, rel); err != nil {
				return err
			}
		}
		return to.MkdirAll(rel, info.Mode().Perm()|0o700)
	case info.Mode()&fs.ModeSymlink != 0:
		link, err := from.Readlink(rel)
		if err != nil {
			return err
		}
		if err := removeFile(to, rel); err != nil {
			return err
		}
		return to.Symlink(link, rel)
	case info.Mode().IsRegular():
		return copyFile(from, to, rel, info.Mode().Perm())
	}
	return nil // sockets, devices: not part of a source tree
}

func samePath(a, b string) (bool, error) {
	ia, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	ib, err := os.Stat(b)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return err == nil && os.SameFile(ia, ib), err
}

// removeFile removes what an earlier run left at rel, if anything.
func removeFile(root *os.Root, rel string) error {
	if err := root.Remove(rel); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

func copyFile(from *tenantfs.Tree, to *os.Root, rel string, perm fs.FileMode) error {
	in, _, err := from.Open(rel)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := removeFile(to, rel); err != nil {
		return err
	}
	out, err := to.OpenFile(rel, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// recordFiles lists the regular files under dir with their SHA-256.
// Prefetch steps wrote dir: links and special files are not recorded, and
// nothing outside dir is read.
func recordFiles(dir string) []FileRecord {
	tree, err := tenantfs.Open(dir, "the prefetch directory")
	if err != nil {
		return nil
	}
	defer tree.Close()
	var out []FileRecord
	_ = tree.WalkDir(".", func(rel string, de fs.DirEntry, err error) error {
		if err != nil || !de.Type().IsRegular() {
			return nil
		}
		sum, size, err := hashFile(tree, rel)
		if err != nil {
			return nil
		}
		out = append(out, FileRecord{Path: rel, Size: size, SHA256: sum})
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

func hashFile(tree *tenantfs.Tree, rel string) (string, int64, error) {
	f, _, err := tree.Open(rel)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil)), n, err
}

// imageCache resolves each image once per run and remembers its digest.
type imageCache struct {
	resolver func(string) (string, string, error)
	mu       sync.Mutex
	entries  map[string]func() (imageEntry, error)
}

type imageEntry struct{ rootfs, digest string }

func newImageCache(r func(string) (string, string, error)) imageCache {
	return imageCache{resolver: r, entries: map[string]func() (imageEntry, error){}}
}

func (c *imageCache) resolve(image string) (string, string, error) {
	c.mu.Lock()
	get, ok := c.entries[image]
	if !ok {
		get = sync.OnceValues(func() (imageEntry, error) { return c.load(image) })
		c.entries[image] = get
	}
	c.mu.Unlock()
	e, err := get()
	return e.rootfs, e.digest, err
}

func (c *imageCache) load(image string) (imageEntry, error) {
	if image == HostImage {
		return imageEntry{}, nil
	}
	if c.resolver == nil {
		return imageEntry{}, fmt.Errorf("image %s: this run has no image resolver (use image %q, or a Kiln server)", image, HostImage)
	}
	rootfs, digest, err := c.resolver(image)
	if err != nil {
		return imageEntry{}, fmt.Errorf("image %s: %w", image, err)
	}
	return imageEntry{rootfs, digest}, nil
}

// used lists the images resolved successfully.
func (c *imageCache) used() []ImageUse {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []ImageUse
	for image, get := range c.entries {
		if e, err := get(); err == nil {
			out = append(out, ImageUse{Image: image, Digest: e.digest})
		}
	}
	return out
}
