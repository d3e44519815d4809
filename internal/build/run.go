package build

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/oci"
	"github.com/kilnbuild/kiln/internal/pipeline"
)

// run executes the plan in the sandbox and pushes its outputs.
func (e *PipelineExecutor) run(ctx context.Context, job Job, plan *pipeline.Plan, src, ws string, out Outcome, tm *timings, ev evidenceInput) (Outcome, error) {
	if e.Runner == nil {
		return out, fmt.Errorf("this server cannot run build steps: %w", e.RunnerErr)
	}
	buildroot, err := e.pullInputs(ctx, job, filepath.Join(ws, "deps"))
	if err != nil {
		return out, err
	}
	tracker := &stepTracker{job: job}
	res, err := pipeline.Run(ctx, plan, pipeline.RunOptions{
		Runner: e.Runner, WorkspaceDir: filepath.Join(ws, "run"), SourceDir: src, Buildroot: buildroot,
		ImageResolver: e.imageResolver(ctx, job), Log: job.Log, StepLog: tracker.stepLog,
		Env: []string{"SOURCE_DATE_EPOCH=" + strconv.FormatInt(out.epoch.Unix(), 10)}, Limits: e.Limits,
	})
	tm.mark("steps")
	if res != nil {
		out.Steps = buildSteps(res)
	}
	if err != nil {
		return out, err
	}
	if res.Status != "Succeeded" {
		out.Failed, out.Message = true, failureMessage(res)
		return out, nil
	}
	out, dir, err := e.push(ctx, job, res, out)
	tm.mark("package+push")
	if err != nil || out.Artifact == nil {
		return out, err
	}
	if out.ContentDigest, err = ContentDigest(dir); err != nil {
		return out, err
	}
	defer tm.mark("sign+attest")
	ev.prefetched = res.Prefetched
	return e.attest(ctx, job, out, dir, ev)
}

// attest signs the pushed artifact and records where the evidence lives.
func (e *PipelineExecutor) attest(ctx context.Context, job Job, out Outcome, dir string, ev evidenceInput) (Outcome, error) {
	if e.Attestor == nil {
		fmt.Fprintln(job.Log, "==> no signing key configured: the artifact is not signed")
		return out, nil
	}
	ev.job, ev.out, ev.outputDir = job, out, dir
	ev.params = buildParams(job.Component, job.Build)
	fmt.Fprintf(job.Log, "==> signing %s@%s (SLSA provenance, SPDX SBOM)\n", out.Artifact.Repository, out.Artifact.Digest)
	evidence, err := e.Attestor.attestBuild(ctx, ev, e.Remote)
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
				Phase: s.Status, ExitCode: s.ExitCode, Reason: s.Reason, StartTime: timePtr(s.Start), CompletionTime: timePtr(s.End)})
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
func (e *PipelineExecutor) push(ctx context.Context, job Job, res *pipeline.RunResult, out Outcome) (Outcome, string, error) {
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

func (e *PipelineExecutor) pushOutput(ctx context.Context, job Job, o pipeline.OutputResult, repo string, out Outcome) (*v1alpha1.BuildArtifact, string, error) {
	g := job.Component.Spec.Source.Git
	opts := oci.PushOptions{Remote: e.Remote, Tags: e.tags(job, out.Commit)[1:],
		Annotations: map[string]string{oci.AnnotationSource: g.URL, oci.AnnotationRevision: out.Commit},
		TempDir:     filepath.Dir(o.Path)}
	ref := repo + ":" + out.Commit
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
func (e *PipelineExecutor) pushImage(ctx context.Context, job Job, o pipeline.OutputResult, ref string, opts oci.PushOptions) (oci.Descriptor, string, error) {
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
		rootfs, _, err := e.imageResolver(ctx, job)(cfg.Base)
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
// itself is moved; the run's workspace is discarded afterwards).
func prefixed(dir, prefix string) (string, error) {
	p := strings.Trim(prefix, "/")
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

// imageResolver pulls and unpacks step images. Images from the embedded
// registry must belong to the build's namespace: the system credentials
// must not let a tenant read another tenant's images.
func (e *PipelineExecutor) imageResolver(ctx context.Context, job Job) func(string) (string, string, error) {
	return func(image string) (string, string, error) {
		if rest, ok := strings.CutPrefix(image, e.embedded()+"/"); ok {
			if ns, _, _ := strings.Cut(rest, "/"); ns != job.Build.Namespace {
				return "", "", fmt.Errorf("image %s belongs to namespace %q: builds may only use embedded-registry images of their own namespace (%s)", image, ns, job.Build.Namespace)
			}
		}
		return oci.Unpack(ctx, image, e.ImageCache, e.remoteFor(image))
	}
}
