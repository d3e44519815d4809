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
)

// runDirs is the layout of RunOptions.WorkspaceDir:
//
//	<workspace>/                      one per pipeline workspace
//	.kiln/prefetch/                   /kiln/prefetch
//	.kiln/tasks/<task>/results/       /tekton/results
//	.kiln/tasks/<task>/scripts/       /tekton/scripts
//	.kiln/tasks/<task>/home/          /tekton/home (and home/prefetch for prefetch steps)
type runDirs struct{ root string }

func (d runDirs) workspace(name string) string { return filepath.Join(d.root, name) }
func (d runDirs) prefetch() string             { return filepath.Join(d.root, ".kiln", "prefetch") }
func (d runDirs) task(name string) string      { return filepath.Join(d.root, ".kiln", "tasks", name) }
func (d runDirs) results(task string) string   { return filepath.Join(d.task(task), "results") }
func (d runDirs) scripts(task string) string   { return filepath.Join(d.task(task), "scripts") }
func (d runDirs) home(task string) string      { return filepath.Join(d.task(task), "home") }

// prepareTask creates the task's directories (idempotent).
func (d runDirs) prepareTask(t *PlanTask) error {
	for _, dir := range []string{d.results(t.Name), d.scripts(t.Name), filepath.Join(d.home(t.Name), "prefetch")} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("creating task directory: %w", err)
		}
	}
	return nil
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
// prefetch steps only).
func (d runDirs) mounts(t *PlanTask, prefetch bool) []sandbox.Mount {
	var ms []sandbox.Mount
	for _, w := range t.Workspaces {
		if w.Workspace == "" {
			continue
		}
		src := filepath.Join(d.workspace(w.Workspace), filepath.FromSlash(w.SubPath))
		ms = append(ms, sandbox.Mount{Source: src, Target: w.MountPath, Writable: !w.ReadOnly && !prefetch})
	}
	home := d.home(t.Name)
	if prefetch {
		home = filepath.Join(home, "prefetch")
	}
	return append(ms,
		sandbox.Mount{Source: d.results(t.Name), Target: ResultsDir, Writable: true},
		sandbox.Mount{Source: d.scripts(t.Name), Target: ScriptsDir},
		sandbox.Mount{Source: home, Target: HomeDir, Writable: true},
		sandbox.Mount{Source: d.prefetch(), Target: PrefetchDir, Writable: prefetch},
	)
}

// copyTree copies src into dst (created), keeping modes and symlinks. The
// directory skip (the run's own directory, when it is inside src) is left
// out.
func copyTree(src, dst, skip string) error {
	same, err := samePath(src, dst)
	if err != nil || same {
		return err
	}
	return filepath.WalkDir(src, func(path string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if de.IsDir() && path != src {
			if inside, _ := samePath(path, skip); inside {
				return filepath.SkipDir
			}
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		info, err := de.Info()
		if err != nil {
			return err
		}
		switch {
		case de.IsDir():
			return os.MkdirAll(target, info.Mode().Perm()|0o700)
		case info.Mode()&fs.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			_ = os.Remove(target) // from an earlier run in the same directory
			return os.Symlink(link, target)
		case info.Mode().IsRegular():
			return copyFile(path, target, info.Mode().Perm())
		}
		return nil // sockets, devices: not part of a source tree
	})
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

func copyFile(src, dst string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
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
func recordFiles(dir string) []FileRecord {
	var out []FileRecord
	_ = filepath.WalkDir(dir, func(path string, de fs.DirEntry, err error) error {
		if err != nil || !de.Type().IsRegular() {
			return nil
		}
		sum, size, err := hashFile(path)
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(dir, path)
		out = append(out, FileRecord{Path: filepath.ToSlash(rel), Size: size, SHA256: sum})
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

func hashFile(path string) (string, int64, error) {
	f, err := os.Open(path)
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
