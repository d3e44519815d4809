package oci

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// storageRoot is where distribution's filesystem driver keeps its layout
// under Config.Dir.
var storageRoot = filepath.Join("docker", "registry", "v2")

// DeleteNamespace deletes everything the registry holds for namespace ns:
// every repository <ns>/… (manifests, tags, layer links, uploads in
// progress) and its referrers index, then every blob no repository links
// any more. Other namespaces are untouched, including ones whose names
// start with ns. Pushes wait while it runs; reads go on (a blob is served
// only through a repository that links it). It is idempotent: after a
// crash, run it again.
func (r *Registry) DeleteNamespace(ns string) error {
	if !repoName.MatchString(ns) || strings.Contains(ns, "/") {
		return fmt.Errorf("deleting registry namespace %q: not a namespace name", ns)
	}
	r.writes.Lock()
	defer r.writes.Unlock()
	for _, dir := range []string{filepath.Join(r.dir, storageRoot, "repositories", ns), filepath.Join(r.referrers.dir, ns)} {
		if err := r.removeAll(dir); err != nil {
			return fmt.Errorf("deleting registry namespace %s: %w", ns, err)
		}
	}
	if err := r.sweepBlobs(); err != nil {
		return fmt.Errorf("deleting registry namespace %s: removing unreferenced blobs: %w", ns, err)
	}
	return nil
}

// removeAll removes dir and, unless NoSync is set, makes the removal
// durable before it returns.
func (r *Registry) removeAll(dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if !r.referrers.sync {
		return nil
	}
	err := syncDir(filepath.Dir(dir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// sweepBlobs removes the blobs that no link file of any repository names
// (layer links, manifest revisions, tags). distribution's own garbage
// collector keeps only blobs reachable from manifests, which would delete
// layers pushed before their manifest; and it must not run while the
// registry serves. Here every blob a repository links is kept, and the
// caller holds the write lock: a blob is linked in the same request that
// stores it, so no request is between the two steps.
func (r *Registry) sweepBlobs() error {
	linked, err := linkedDigests(filepath.Join(r.dir, storageRoot, "repositories"))
	if err != nil {
		return err
	}
	blobs := filepath.Join(r.dir, storageRoot, "blobs")
	algs, err := os.ReadDir(blobs)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, alg := range algs {
		if err := sweepAlgorithm(filepath.Join(blobs, alg.Name()), alg.Name(), linked); err != nil {
			return err
		}
	}
	return nil
}

// sweepAlgorithm removes blobs/<alg>/<xx>/<hex> directories not in linked.
func sweepAlgorithm(dir, alg string, linked map[string]bool) error {
	prefixes, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, p := range prefixes {
		blobs, err := os.ReadDir(filepath.Join(dir, p.Name()))
		if err != nil {
			return err
		}
		for _, b := range blobs {
			if linked[alg+":"+b.Name()] {
				continue
			}
			if err := os.RemoveAll(filepath.Join(dir, p.Name(), b.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

// linkedDigests reads every link file under the repositories directory.
func linkedDigests(root string) (map[string]bool, error) {
	linked := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil || d.IsDir() || d.Name() != "link" {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		linked[string(bytes.TrimSpace(b))] = true
		return nil
	})
	return linked, err
}
