package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/attest"
	"github.com/kilnbuild/kiln/internal/capability"
	"github.com/kilnbuild/kiln/internal/oci"
	"github.com/kilnbuild/kiln/internal/tenantfs"
)

// CapabilitiesOf records a detected set: provides, build requirements ("a|b"
// for alternatives) and the detectors that fired.
func CapabilitiesOf(commit string, s *capability.Set) *v1alpha1.Capabilities {
	out := &v1alpha1.Capabilities{Commit: commit, Detected: s.Detected}
	for _, p := range s.Provides {
		out.Provides = append(out.Provides, p.Name)
	}
	for _, r := range s.BuildRequires {
		if !r.Optional {
			out.Requires = append(out.Requires, strings.Join(r.Any, "|"))
		}
	}
	sort.Strings(out.Provides)
	sort.Strings(out.Requires)
	return out
}

// detect reads the source's capabilities; a source it cannot read is
// logged, not fatal (the component then declares what it needs).
func detect(job Job, src, commit string) *v1alpha1.Capabilities {
	set, err := capability.DetectWith(src, capability.Options{Names: []string{job.Component.Name}})
	if err != nil {
		fmt.Fprintf(job.Log, "==> warning: detecting provides/requires: %v\n", err)
		return nil
	}
	c := CapabilitiesOf(commit, set)
	if len(c.Provides)+len(c.Requires) > 0 {
		fmt.Fprintf(job.Log, "==> detected (%s): provides %d, requires %d\n", strings.Join(c.Detected, ","), len(c.Provides), len(c.Requires))
	}
	return c
}

// pullInputs materialises the build's dependency artifacts, read-only in
// the sandbox, at <dir>/<component>. Inputs must be artifacts of the
// build's own namespace: a tenant cannot point a build at another
// tenant's artifacts.
func (e *PipelineExecutor) pullInputs(ctx context.Context, job Job, dir string) (string, error) {
	inputs := job.Build.Spec.Inputs
	if len(inputs) == 0 {
		return "", nil
	}
	for _, in := range inputs {
		if !e.ownRepository(job.Build.Namespace, in.Repository) {
			return "", fmt.Errorf("spec.inputs: %s is not an artifact of namespace %q: builds may only use their own namespace's artifacts", in.Repository, job.Build.Namespace)
		}
		ref := in.Repository + "@" + in.Digest
		dest := filepath.Join(dir, in.Component)
		if _, err := oci.Pull(ctx, ref, dest, e.remoteFor(in.Repository)); err != nil {
			return "", fmt.Errorf("pulling input %s: %w", ref, err)
		}
		fmt.Fprintf(job.Log, "==> input %s: %s at /kiln/deps/%s\n", in.Component, ref, in.Component)
	}
	return dir, nil
}

func (e *PipelineExecutor) ownRepository(ns, repo string) bool {
	for _, host := range []string{e.Registry, e.Embedded} {
		if host != "" && strings.HasPrefix(repo, host+"/"+ns+"/") {
			return true
		}
	}
	return false
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
