package executor

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/attest"
	"github.com/kilnbuild/kiln/internal/capability"
	"github.com/kilnbuild/kiln/internal/tenantfs"
)

// detect reads the source's capabilities; a source it cannot read is
// logged, not fatal (the component then declares what it needs).
func detect(job Job, src, commit string) *v1alpha1.Capabilities {
	set, err := capability.DetectWith(src, capability.ComponentOptions(job.Component))
	if err != nil {
		fmt.Fprintf(job.Log, "==> warning: detecting provides/requires: %v\n", err)
		return nil
	}
	c := set.Status(commit)
	if len(c.Provides)+len(c.Requires) > 0 {
		fmt.Fprintf(job.Log, "==> detected (%s): provides %d, requires %d\n", strings.Join(c.Detected, ","), len(c.Provides), len(c.Requires))
	}
	return c
}

// pullInputs materialises the build's dependency artifacts, read-only in
// the sandbox, at <dir>/<component>.
func (e *Executor) pullInputs(ctx context.Context, job Job, dir string) (string, error) {
	root, err := e.Runs.PullArtifacts(ctx, job.Build.Namespace, job.Build.Spec.Inputs, dir, job.Log)
	if err != nil {
		return "", fmt.Errorf("spec.inputs: %w", err)
	}
	return root, nil
}

// dependencies lists the inputs for the provenance and the SBOM.
func dependencies(inputs []v1alpha1.BuildInput) []attest.Artifact {
	var out []attest.Artifact
	for _, in := range inputs {
		out = append(out, attest.Artifact{Name: in.Repository, Digest: in.Digest})
	}
	return out
}

// ContentDigest digests a directory's regular files and symlinks by path,
// mode and content, ignoring timestamps and ownership: two builds with
// equal digests produced the same output even if archive metadata differs.
// A build's steps wrote dir: links are digested as links (never followed)
// and nothing outside dir is read.
func ContentDigest(dir string) (string, error) {
	return contentDigest(dir, nil)
}

// PackagesDigest is ContentDigest of the .deb files at the top of dir
// only: a Debian build's .buildinfo records when it ran (Build-Date), so
// two builds of identical packages compare by their packages.
func PackagesDigest(dir string) (string, error) {
	return contentDigest(dir, func(rel string, d fs.DirEntry) bool {
		return rel == "." || (!strings.Contains(rel, "/") && strings.HasSuffix(rel, ".deb") && d.Type().IsRegular())
	})
}

func contentDigest(dir string, keep func(rel string, d fs.DirEntry) bool) (string, error) {
	out, err := tenantfs.Open(dir, "the output")
	if err != nil {
		return "", fmt.Errorf("digesting %s: %w", dir, err)
	}
	defer out.Close()
	h := sha256.New()
	err = out.WalkDir(".", func(rel string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if keep != nil && !keep(rel, d) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		return digestEntry(h, out, rel, d)
	})
	if err != nil {
		return "", fmt.Errorf("digesting %s: %w", dir, err)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

func digestEntry(h io.Writer, out *tenantfs.Tree, rel string, d fs.DirEntry) error {
	info, err := d.Info()
	if err != nil {
		return err
	}
	switch {
	case d.Type()&fs.ModeSymlink != 0:
		target, err := out.Readlink(rel)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "L %s %s\n", rel, target)
	case d.IsDir():
		fmt.Fprintf(h, "D %s %o\n", rel, info.Mode().Perm())
	case d.Type().IsRegular():
		sum, err := fileSHA256(out, rel)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "F %s %o %s\n", rel, info.Mode().Perm(), sum)
	}
	return nil
}

func fileSHA256(out *tenantfs.Tree, rel string) (string, error) {
	f, _, err := out.Open(rel)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
