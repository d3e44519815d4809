package executor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/attest"
	"github.com/kilnbuild/kiln/internal/buildroot"
	"github.com/kilnbuild/kiln/internal/buildroot/deb"
	"github.com/kilnbuild/kiln/internal/debian"
	"github.com/kilnbuild/kiln/internal/pipeline"
)

// Buildroot is the buildroot a build's steps ran in (image
// kiln.dev/buildroot): a base image plus the resolved build dependencies.
type Buildroot struct {
	// Key is the buildroot's content address (base digest + packages).
	Key string
	// Base is the base image, repository@digest.
	Base string
	// Packages were installed into the base, sorted.
	Packages []buildroot.Package
	// Cached is set when an earlier composition was reused; Duration is
	// how long composing (or finding) it took.
	Cached   bool
	Duration time.Duration

	baseDigest, baseRoot, deps, rootfs string
	// composed holds the buildroot in the cache until release.
	composed buildroot.Result
}

// release lets the cache evict the composed buildroot: the build's steps
// no longer run in it. It may be called more than once, and on nil.
func (b *Buildroot) release() {
	if b != nil {
		b.composed.Release()
	}
}

// buildrootTask is the plan's task whose steps run in the composed
// buildroot, if any.
func buildrootTask(plan *pipeline.Plan) *pipeline.PlanTask {
	for _, t := range plan.Tasks {
		for _, s := range t.Steps {
			if s.Image == pipeline.BuildrootImage {
				return t
			}
		}
	}
	return nil
}

func taskParam(t *pipeline.PlanTask, name string) string {
	for _, p := range t.Params {
		if p.Name == name {
			return p.Value.StringVal
		}
	}
	return ""
}

// resolveBuildroot resolves the build dependencies of a plan that runs in
// kiln.dev/buildroot: the base image is the artifact of the component the
// task's base param names (one of the build's inputs, read through the
// registry like any step image); the other inputs are pulled into
// ws/deps, and their .debs, the base's installed packages and its archive
// index satisfy debian/control's Build-Depends. Nothing is composed yet.
// A *deb.Unresolvable error means the build cannot start.
func (e *Executor) resolveBuildroot(ctx context.Context, job Job, plan *pipeline.Plan, src, ws string) (*Buildroot, error) {
	t := buildrootTask(plan)
	if t == nil {
		return nil, nil
	}
	if e.Buildroots == nil {
		return nil, errors.New("this server does not compose buildroots (no buildroot cache configured)")
	}
	br, members, err := e.buildrootInputs(ctx, job, taskParam(t, "base"), ws)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(job.Log, "==> buildroot base %s\n", br.Base)
	reqs, err := buildDepends(src, buildProfiles(t))
	if err != nil {
		return nil, err
	}
	u, err := e.universe(br, members)
	if err != nil {
		return nil, err
	}
	resolved, err := u.Resolve(reqs)
	if err != nil {
		return nil, err
	}
	br.Packages = buildroot.Sorted(deb.Packages(resolved))
	br.Key = buildroot.Key(br.baseDigest, br.Packages)
	logResolved(job, br)
	return br, nil
}

// buildrootInputs finds the base among the build's inputs, unpacks it as
// a step image and pulls the other inputs (group members) into ws/deps.
func (e *Executor) buildrootInputs(ctx context.Context, job Job, base, ws string) (*Buildroot, map[string]string, error) {
	var others []v1alpha1.BuildInput
	br := &Buildroot{}
	members := map[string]string{}
	for _, in := range job.Build.Spec.Inputs {
		if in.Component == base {
			br.Base = in.Repository + "@" + in.Digest
			continue
		}
		others = append(others, in)
		members[in.Component] = in.Repository + "@" + in.Digest
	}
	if br.Base == "" {
		return nil, nil, fmt.Errorf("the build runs in a composed buildroot on the base component %q, which is not among its inputs: "+
			"add %q to spec.build.requires (and build it), or set the pipeline's base param to the base component", base, base)
	}
	var err error
	if br.baseRoot, br.baseDigest, err = e.Runs.StepImages(ctx, job.Build.Namespace)(br.Base); err != nil {
		return nil, nil, fmt.Errorf("the base buildroot %s: %w", br.Base, err)
	}
	pulled, err := e.Runs.PullArtifacts(ctx, job.Build.Namespace, others, filepath.Join(ws, "deps"), job.Log)
	if err != nil {
		return nil, nil, fmt.Errorf("spec.inputs: %w", err)
	}
	br.deps = pulled
	return br, members, nil
}

// buildProfiles are the build profiles of the task's profiles and nocheck
// params.
func buildProfiles(t *pipeline.PlanTask) []string {
	profiles := strings.Fields(taskParam(t, "profiles"))
	if taskParam(t, "nocheck") == "true" {
		profiles = append(profiles, "nocheck")
	}
	return profiles
}

// buildDepends are the source's build dependencies on this architecture
// with profiles active (internal/debian reads debian/control).
func buildDepends(src string, profiles []string) ([]deb.Relation, error) {
	f, err := os.Open(filepath.Join(src, "debian", "control"))
	if err != nil {
		return nil, fmt.Errorf("the source has no debian/control: %w", err)
	}
	defer f.Close()
	c, err := debian.ParseControl(f)
	if err != nil {
		return nil, err
	}
	var out []deb.Relation
	for _, r := range c.Source.BuildDepends(debArch(), profiles) {
		var rel deb.Relation
		for _, d := range r.Alternatives {
			rel.Alternatives = append(rel.Alternatives, deb.Dep{Name: d.Name, Op: d.Op, Version: d.Version, ArchQualifier: d.ArchQualifier})
		}
		out = append(out, rel)
	}
	return out, nil
}

// universe is what the build's dependencies may come from.
func (e *Executor) universe(br *Buildroot, members map[string]string) (*deb.Universe, error) {
	base, err := deb.ReadBase(br.baseRoot, debArch())
	if err != nil {
		return nil, fmt.Errorf("the base buildroot %s: %w", br.Base, err)
	}
	u := &deb.Universe{Arch: debArch(), Installed: base.Installed, Archive: base.Archive}
	if br.deps != "" {
		if u.Members, err = deb.ReadMembers(br.deps, members); err != nil {
			return nil, err
		}
	}
	return u, nil
}

// debArch is Debian's name of this machine's architecture (amd64, arm64).
func debArch() string { return runtime.GOARCH }

func logResolved(job Job, br *Buildroot) {
	fmt.Fprintf(job.Log, "==> buildroot %s: %d packages besides the base\n", br.Key, len(br.Packages))
	for _, p := range br.Packages {
		fmt.Fprintf(job.Log, "    %s %s sha256:%s from %s\n", p.Name, p.Version, p.SHA256, p.Source())
	}
}

// compose makes (or reuses) the buildroot and returns the image resolver
// that gives it for kiln.dev/buildroot. The buildroot is held in the cache
// until br.release.
func (e *Executor) compose(ctx context.Context, job Job, br *Buildroot) (func(string) (string, string, error), error) {
	res, err := e.Buildroots.Compose(ctx, buildroot.Request{Namespace: job.Build.Namespace, Base: br.baseDigest,
		BaseRoot: br.baseRoot, Packages: br.Packages, Format: deb.Format(), Log: job.Log})
	if err != nil {
		return nil, err
	}
	br.composed, br.rootfs, br.Cached, br.Duration = res, res.RootFS, res.Cached, res.Duration
	images := e.Runs.StepImages(ctx, job.Build.Namespace)
	return func(image string) (string, string, error) {
		if image == pipeline.BuildrootImage {
			return br.rootfs, br.Key, nil
		}
		return images(image)
	}, nil
}

// packageMaterials are the buildroot's packages for the provenance and
// the SBOM.
func packageMaterials(br *Buildroot) []attest.Package {
	if br == nil {
		return nil
	}
	out := make([]attest.Package, 0, len(br.Packages))
	for _, p := range br.Packages {
		url := p.URL
		if p.Artifact != "" {
			url = "oci://" + p.Artifact + "#" + p.File
		}
		out = append(out, attest.Package{Type: "deb", Distro: "debian", Name: p.Name, Version: p.Version, Arch: p.Arch,
			File: p.File, URL: url, SHA256: p.SHA256})
	}
	return out
}

// unresolvable turns a resolution failure into the build's outcome: the
// build fails without starting its steps, and says what is missing.
func unresolvable(job Job, out Outcome, err error) (Outcome, bool) {
	var u *deb.Unresolvable
	if !errors.As(err, &u) {
		return out, false
	}
	out.Failed, out.Unresolvable = true, true
	out.Message = err.Error() + "; the build did not start: add a component providing " + u.Missing() +
		" to the group, or rebuild the base to refresh its archive index"
	fmt.Fprintf(job.Log, "==> %s\n", strings.TrimSpace(out.Message))
	return out, true
}
