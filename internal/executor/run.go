package executor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/buildroot"
	"github.com/kilnbuild/kiln/internal/oci"
	"github.com/kilnbuild/kiln/internal/pipeline"
)

// run executes the plan in the sandbox, pushes its outputs, signs and
// tags them.
func (e *Executor) run(ctx context.Context, job Job, plan *pipeline.Plan, src, ws string, out Outcome, tm *timings, ev evidenceInput) (Outcome, error) {
	out, dir, res, err := e.runSteps(ctx, job, plan, src, ws, out, tm)
	if err != nil || out.Failed || out.Artifact == nil {
		return out, err
	}
	ev.prefetched = res.Prefetched
	return e.signAndTag(ctx, job, out, dir, ev, tm)
}

// runSteps executes the plan in the sandbox and pushes its outputs: the
// part of an attempt a remote worker runs too (RunSteps). It returns the
// directory of the primary output's files.
func (e *Executor) runSteps(ctx context.Context, job Job, plan *pipeline.Plan, src, ws string, out Outcome, tm *timings) (Outcome, string, *pipeline.RunResult, error) {
	if e.Runs.Sandbox == nil {
		return out, "", nil, fmt.Errorf("this server cannot run build steps: %w", e.Runs.SandboxErr)
	}
	deps, images, err := e.stepInputs(ctx, job, ws, out.Buildroot)
	// The composed buildroot is released once the steps are done, and on
	// every path that does not run them.
	defer out.Buildroot.release()
	tm.mark("inputs")
	var composeErr *buildroot.ComposeError
	if errors.As(err, &composeErr) {
		out.Failed, out.Message = true, err.Error()
		fmt.Fprintf(job.Log, "==> %s\n", out.Message)
		return out, "", nil, nil
	}
	if err != nil {
		return out, "", nil, err
	}
	tracker := &stepTracker{job: job}
	res, err := pipeline.Run(ctx, plan, pipeline.RunOptions{
		Runner: e.Runs.Sandbox, WorkspaceDir: filepath.Join(ws, "run"), SourceDir: src, Buildroot: deps,
		ImageResolver: images, Log: job.Log, StepLog: tracker.stepLog,
		Env: []string{"SOURCE_DATE_EPOCH=" + strconv.FormatInt(out.epoch.Unix(), 10)}, Limits: e.Runs.Limits,
	})
	out.Buildroot.release()
	tm.mark("steps")
	if res != nil {
		out.Steps = buildSteps(res)
	}
	if err != nil {
		return out, "", res, err
	}
	if res.Status != "Succeeded" {
		out.Failed, out.Message = true, failureMessage(res)
		return out, "", res, nil
	}
	out, dir, err := e.push(ctx, job, res, out)
	tm.mark("package+push")
	if err != nil || out.Artifact == nil {
		return out, "", res, err
	}
	digest := ContentDigest
	if out.Buildroot != nil {
		digest = PackagesDigest
	}
	if out.ContentDigest, err = digest(dir); err != nil {
		return out, "", res, err
	}
	e.debianCutoff(ctx, job, &out, dir, ws)
	return out, dir, res, nil
}

// signAndTag signs the pushed primary output and tags every output.
func (e *Executor) signAndTag(ctx context.Context, job Job, out Outcome, dir string, ev evidenceInput, tm *timings) (Outcome, error) {
	out, err := e.attest(ctx, job, out, dir, ev)
	tm.mark("sign+attest")
	if err != nil {
		return out, err
	}
	return out, e.tagOutputs(ctx, job, out.Outputs)
}

// stepInputs are the dependency artifacts mounted at /kiln/deps and the
// step image resolver: with a buildroot, the members' artifacts pulled
// while resolving and the composed buildroot (a *buildroot.ComposeError
// when it cannot be composed).
func (e *Executor) stepInputs(ctx context.Context, job Job, ws string, br *Buildroot) (string, func(string) (string, string, error), error) {
	if br == nil {
		deps, err := e.pullInputs(ctx, job, filepath.Join(ws, "deps"))
		return deps, e.Runs.StepImages(ctx, job.Build.Namespace), err
	}
	images, err := e.compose(ctx, job, br)
	return br.deps, images, err
}

// tagOutputs applies the build's tags (commit, build-N) to its pushed
// outputs, the last step of a successful attempt: outputs are pushed by
// digest only and tagged once signed, so a tag never names an unsigned
// artifact. The outputs are recorded first (job.Pushed), so whoever ends
// the build otherwise knows which repositories to untag.
func (e *Executor) tagOutputs(ctx context.Context, job Job, outs []v1alpha1.BuildArtifact) error {
	if job.Pushed != nil {
		if err := job.Pushed(outs); err != nil {
			return fmt.Errorf("recording the pushed outputs: %w", err)
		}
	}
	for _, a := range outs {
		if err := oci.Tag(ctx, a.Repository+"@"+a.Digest, a.Tags, e.Runs.Remote); err != nil {
			return fmt.Errorf("tagging %s@%s: %w", a.Repository, a.Digest, err)
		}
		fmt.Fprintf(job.Log, "==> tagged %s@%s as %s\n", a.Repository, a.Digest, strings.Join(a.Tags, ", "))
	}
	return nil
}

// Untag removes the build-N tag of b from every repository an attempt of
// b may have tagged: the component's, and those of the outputs b
// recorded. Kiln calls it when a build that started ends other than
// Succeeded, so build-N only ever names a succeeded build's artifact.
// The commit tag stays: it is applied only to a signed artifact built from
// that commit.
func (e *Executor) Untag(ctx context.Context, b *v1alpha1.Build) error {
	if b.Status.BuildNumber == 0 {
		return nil
	}
	home := e.repoOf(b.Namespace, b.Spec.Component)
	repos := []string{home}
	for _, a := range b.Status.Outputs {
		// Outputs live under the component's repository; name them on
		// this server (its address may have changed since).
		_, sub, ok := strings.Cut(a.Repository, "/"+b.Namespace+"/"+b.Spec.Component)
		if repo := home + sub; ok && (sub == "" || strings.HasPrefix(sub, "/")) && !slices.Contains(repos, repo) {
			repos = append(repos, repo)
		}
	}
	tag := buildTag(b.Status.BuildNumber)
	for _, repo := range repos {
		if err := oci.Untag(ctx, repo, tag, e.Runs.RemoteFor(repo+":"+tag)); err != nil {
			return err
		}
	}
	return nil
}

// attest signs the pushed artifact and records where the evidence lives.
func (e *Executor) attest(ctx context.Context, job Job, out Outcome, dir string, ev evidenceInput) (Outcome, error) {
	if e.Attestor == nil {
		fmt.Fprintln(job.Log, "==> no signing key configured: the artifact is not signed")
		return out, nil
	}
	ev.job, ev.out, ev.outputDir = job, out, dir
	ev.params = buildParams(job.Component, job.Build)
	fmt.Fprintf(job.Log, "==> signing %s@%s (SLSA provenance, SPDX SBOM)\n", out.Artifact.Repository, out.Artifact.Digest)
	evidence, err := e.Attestor.attestBuild(ctx, ev, e.Runs.Remote)
	if err != nil {
		return out, fmt.Errorf("signing %s@%s: %w", out.Artifact.Repository, out.Artifact.Digest, err)
	}
	out.Evidence = evidence
	fmt.Fprintf(job.Log, "==> signed with key %s: %s\n", evidence.KeyID, evidence.Attestations)
	return out, nil
}

// stepTracker reports steps as they start.
type stepTracker struct {
	mu    sync.Mutex
	job   Job
	steps []v1alpha1.BuildStep
}

func (t *stepTracker) stepLog(task, step string) io.Writer {
	t.mu.Lock()
	now := metav1.Now()
	t.steps = append(t.steps, v1alpha1.BuildStep{Task: task, Name: step, Phase: "Running", StartTime: &now})
	steps := append([]v1alpha1.BuildStep(nil), t.steps...)
	t.mu.Unlock()
	t.job.Progress(steps)
	return &prefixWriter{w: t.job.Log, prefix: "[" + task + "/" + step + "] "}
}

// prefixWriter prefixes every line, like the pipeline's own log. It keeps
// the bytes as they are (a step may print anything, not only UTF-8) and
// holds nothing back: what it writes is as long as what it is given plus
// the prefixes (the pipeline's writer hands it bounded lines).
type prefixWriter struct {
	mu     sync.Mutex
	w      io.Writer
	prefix string
	mid    bool
	out    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.out = p.out[:0]
	for rest := b; len(rest) > 0; {
		if !p.mid {
			p.out = append(p.out, p.prefix...)
			p.mid = true
		}
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			p.out = append(p.out, rest...)
			break
		}
		p.out, rest, p.mid = append(p.out, rest[:i+1]...), rest[i+1:], false
	}
	if _, err := p.w.Write(p.out); err != nil {
		return 0, err
	}
	return len(b), nil
}

func buildSteps(res *pipeline.RunResult) []v1alpha1.BuildStep {
	var out []v1alpha1.BuildStep
	for _, t := range res.Tasks {
		for _, s := range t.Steps {
			out = append(out, v1alpha1.BuildStep{Task: t.Name, Name: s.Name, Image: s.Image, ImageDigest: s.ImageDigest,
				Phase: s.Status, ExitCode: s.ExitCode, Reason: s.Reason, Network: s.Network,
				StartTime: timePtr(s.Start), CompletionTime: timePtr(s.End)})
		}
	}
	return out
}

func timePtr(t time.Time) *metav1.Time {
	if t.IsZero() {
		return nil
	}
	mt := metav1.NewTime(t)
	return &mt
}

// failureMessage names the first failed step.
func failureMessage(res *pipeline.RunResult) string {
	for _, t := range res.Tasks {
		for _, s := range t.Steps {
			if s.Status == "Failed" || (s.Status != "Succeeded" && s.Status != "Skipped" && s.Status != "" && s.Status != "NotRun") {
				msg := fmt.Sprintf("step %s/%s %s (exit %d)", t.Name, s.Name, strings.ToLower(s.Status), s.ExitCode)
				if s.Reason != "" {
					msg += ": " + s.Reason
				}
				return msg
			}
		}
	}
	if res.Reason != "" {
		return "pipeline " + strings.ToLower(res.Status) + ": " + res.Reason
	}
	return "pipeline " + strings.ToLower(res.Status)
}

// push sends the outputs to the registry: an image output is the
// component's artifact; directory outputs are artifacts too (the first one
// is the component's artifact when there is no image).
// It returns the directory holding the primary artifact's files.
func (e *Executor) push(ctx context.Context, job Job, res *pipeline.RunResult, out Outcome) (Outcome, string, error) {
	if len(res.Outputs) == 0 {
		out.Message = "succeeded; the pipeline declares no output, nothing was pushed"
		return out, "", nil
	}
	primary := primaryOutput(res.Outputs)
	var primaryDir string
	for i, o := range res.Outputs {
		repo := e.repo(job)
		if i != primary {
			repo += "/" + o.Name
		}
		a, dir, err := e.pushOutput(ctx, job, o, repo, out)
		if err != nil {
			return out, "", err
		}
		if i == primary {
			out.Artifact, primaryDir = a, dir
			out.Outputs = append([]v1alpha1.BuildArtifact{*a}, out.Outputs...)
		} else {
			out.Outputs = append(out.Outputs, *a)
		}
		fmt.Fprintf(job.Log, "==> pushed %s %s@%s\n", o.Kind, a.Repository, a.Digest)
	}
	out.Message = "pushed " + out.Artifact.Repository + "@" + out.Artifact.Digest
	return out, primaryDir, nil
}

func primaryOutput(outs []pipeline.OutputResult) int {
	for i, o := range outs {
		if o.Kind == "image" {
			return i
		}
	}
	return 0
}

func (e *Executor) pushOutput(ctx context.Context, job Job, o pipeline.OutputResult, repo string, out Outcome) (*v1alpha1.BuildArtifact, string, error) {
	g := job.Component.Spec.Source.Git
	opts := oci.PushOptions{Remote: e.Runs.Remote,
		Annotations: map[string]string{oci.AnnotationSource: g.URL, oci.AnnotationRevision: out.Commit},
		TempDir:     filepath.Dir(o.Path)}
	ref := repo // by digest only: tagOutputs tags it once it is signed
	var desc oci.Descriptor
	var err error
	dir := o.Path
	if o.Kind == "image" {
		desc, dir, err = e.pushImage(ctx, job, o, ref, opts)
	} else {
		desc, err = oci.PushDirectory(ctx, ref, o.Path, opts)
	}
	if err != nil {
		return nil, "", fmt.Errorf("pushing output %s: %w", o.Name, err)
	}
	return &v1alpha1.BuildArtifact{Repository: repo, Digest: desc.Digest, Tags: e.tags(job, out.Commit),
		ArtifactType: firstNonEmpty(desc.ArtifactType, desc.MediaType)}, dir, nil
}

// pushImage assembles an image from the output directory (placed under the
// image's prefix), on top of the base image when one is named. It returns
// the directory of the image's own layer.
func (e *Executor) pushImage(ctx context.Context, job Job, o pipeline.OutputResult, ref string, opts oci.PushOptions) (oci.Descriptor, string, error) {
	cfg := o.Image
	if cfg == nil {
		cfg = &pipeline.ImageConfig{}
	}
	layer, err := prefixed(o.Path, cfg.Prefix)
	if err != nil {
		return oci.Descriptor{}, "", err
	}
	var layers []string
	if cfg.Base != "" {
		rootfs, _, err := e.Runs.StepImages(ctx, job.Build.Namespace)(cfg.Base)
		if err != nil {
			return oci.Descriptor{}, "", fmt.Errorf("base image %s: %w", cfg.Base, err)
		}
		layers = append(layers, rootfs)
	}
	layers = append(layers, layer)
	spec := oci.ImageSpec{Layers: layers, Config: oci.ImageConfig{Entrypoint: cfg.Entrypoint, Cmd: cfg.Cmd,
		Env: cfg.Env, WorkingDir: cfg.WorkingDir, User: cfg.User, Labels: cfg.Labels}}
	desc, err := oci.PushImage(ctx, ref, spec, opts)
	return desc, layer, err
}

// prefixed returns a directory holding dir's content under prefix (dir
// itself is moved; the run's workspace is discarded afterwards). The
// prefix is the pipeline's: it is cleaned as an absolute path, so that it
// cannot lead the move out of the new directory.
func prefixed(dir, prefix string) (string, error) {
	p := strings.Trim(path.Clean("/"+prefix), "/")
	if p == "" {
		return dir, nil
	}
	root, err := os.MkdirTemp(filepath.Dir(dir), "layer-")
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755); err != nil {
		return "", err
	}
	return root, os.Rename(dir, filepath.Join(root, p))
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
