package executor

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/debian"
	"github.com/kilnbuild/kiln/internal/oci"
	"github.com/kilnbuild/kiln/internal/pipeline"
)

// binNMUParam is the debian pipeline's binnmu param for a build caused by
// a dependency with no source change (the commit is the one the component
// last built): a binNMU changelog entry, version +b<build number>, so the
// rebuilt packages sort newer than the last ones without a commit. Empty
// when the build is not such a rebuild (a first build is not), the
// pipeline has no binnmu param, or the build sets it itself.
func binNMUParam(job Job, p *pipeline.Pipeline, src, commit string, params map[string]any, epoch time.Time) (string, error) {
	r := job.Build.Spec.Reason
	if r.Type != v1alpha1.ReasonDependencyChange && r.Type != v1alpha1.ReasonCycle || job.Component.Status.LastBuiltCommit != commit {
		return "", nil
	}
	if _, set := params["binnmu"]; set || !slices.ContainsFunc(p.Spec.Params, func(ps pipeline.ParamSpec) bool { return ps.Name == "binnmu" }) {
		return "", nil
	}
	f, err := os.Open(filepath.Join(src, debian.ChangelogFile))
	if err != nil {
		return "", fmt.Errorf("a binNMU needs debian/changelog: %w", err)
	}
	defer f.Close()
	head, err := debian.ParseChangelogHead(f)
	if err != nil {
		return "", err
	}
	version, err := debian.BinNMU(head.Version, int(max(job.Build.Status.BuildNumber, 1)))
	if err != nil {
		return "", err
	}
	return debian.BinNMUChangelogEntry(debian.BinNMUEntry{Source: head.Source, Version: version, Distribution: head.Distribution,
		Arch: debArch(), Reason: binNMUReason(r), Date: epoch})
}

func binNMUReason(r v1alpha1.BuildReason) string {
	s := "Rebuild against " + r.Component
	if r.Build != "" {
		s += " (build " + r.Build + ")"
	}
	if r.NewDigest != "" {
		s += ", artifact " + r.NewDigest
	}
	return s + "."
}

// debianCutoff is early cutoff for Debian packages (OBS build-compare):
// when the new .debs differ from the component's current artifact's only
// in what Kiln stamps (binNMU version and changelog entry, timestamps),
// the build's content digest becomes the current one's, so the output
// counts as unchanged and its dependants are not rebuilt.
func (e *Executor) debianCutoff(ctx context.Context, job Job, out *Outcome, dir, ws string) {
	prev, prevDigest := job.Component.Status.LatestArtifactRef, job.Component.Status.LatestContentDigest
	if out.Buildroot == nil || prev == "" || prevDigest == "" || out.ContentDigest == prevDigest {
		return
	}
	prevDir := filepath.Join(ws, "previous")
	if _, err := oci.Pull(ctx, prev, prevDir, e.Runs.RemoteFor(prev)); err != nil {
		fmt.Fprintf(job.Log, "==> build-compare: cannot read the previous artifact %s: %v\n", prev, err)
		return
	}
	same, reason, err := compareDebs(prevDir, dir)
	switch {
	case err != nil:
		fmt.Fprintf(job.Log, "==> build-compare: %v\n", err)
	case same:
		fmt.Fprintf(job.Log, "==> build-compare: the packages are those of %s but for what Kiln stamps (binNMU version and changelog, timestamps)\n", prev)
		out.ContentDigest = prevDigest
	default:
		fmt.Fprintf(job.Log, "==> build-compare: the packages differ from %s: %s\n", prev, reason)
	}
}

func compareDebs(a, b string) (bool, string, error) {
	pa, _ := filepath.Glob(filepath.Join(a, "*.deb"))
	pb, _ := filepath.Glob(filepath.Join(b, "*.deb"))
	if len(pa) == 0 || len(pb) == 0 {
		return false, "no packages to compare", nil
	}
	fa, closeA, err := debian.OpenDebFiles(pa)
	if err != nil {
		return false, "", err
	}
	defer closeA()
	fb, closeB, err := debian.OpenDebFiles(pb)
	if err != nil {
		return false, "", err
	}
	defer closeB()
	return debian.SamePackages(fa, fb)
}
