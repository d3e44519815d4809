package executor

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/buildroot"
	"github.com/kilnbuild/kiln/internal/git"
	"github.com/kilnbuild/kiln/internal/oci"
	"github.com/kilnbuild/kiln/internal/pipeline"
	"github.com/kilnbuild/kiln/internal/pipelinerun"
)

// Executor runs builds for real: fetch and export the source, load and
// compile the pipeline, look up the cache, run the steps in the sandbox,
// push the outputs.
type Executor struct {
	// Runs runs the steps, with the rules every run in the sandbox
	// follows; its Git cache fetches sources and its registries receive
	// the outputs.
	Runs *pipelinerun.Runner
	// WorkDir holds one directory per running build
	// (builds/<namespace>/<build>), removed afterwards.
	WorkDir string
	// Attestor signs every pushed artifact; nil: artifacts are unsigned.
	Attestor *Attestor
	// Buildroots composes and keeps the buildroots of pipelines that run
	// in kiln.dev/buildroot; nil: such builds fail saying so.
	Buildroots *buildroot.Cache
}

// Execute runs one attempt of job.
func (e *Executor) Execute(ctx context.Context, job Job) (Outcome, error) {
	g := job.Component.Spec.Source.Git
	if g == nil {
		return Outcome{}, fmt.Errorf("component %s has no git source", job.Component.Name)
	}
	if err := e.Runs.CheckURL(g.URL); err != nil {
		return Outcome{}, err
	}
	ctx, done := e.Runs.Track(ctx, job.Build.Namespace)
	defer done()
	ws := filepath.Join(e.WorkDir, "builds", job.Build.Namespace, job.Build.Name)
	_ = os.RemoveAll(ws)
	defer os.RemoveAll(ws)
	started := time.Now()
	logw := newHashingWriter(job.Log)
	job.Log = logw
	tm := newTimings()
	defer tm.log(job.Log)
	src, out, err := e.checkout(ctx, job, g, ws)
	tm.mark("source")
	if err != nil {
		return out, err
	}
	out.Capabilities = detect(job, src, out.Commit)
	plan, err := e.plan(job, g, src, out.Commit, &out)
	if err != nil {
		return out, err
	}
	fmt.Fprintf(job.Log, "==> pipeline %s (%s), plan %s\n", plan.Pipeline, out.Pipeline.Source, out.Pipeline.Digest)
	br, err := e.resolveBuildroot(ctx, job, plan, src, ws)
	if o, ok := unresolvable(job, out, err); ok {
		return o, nil
	}
	if err != nil {
		return out, err
	}
	out.Buildroot = br
	out.InputsDigest = e.inputsDigest(ctx, job, out.TreeHash, plan, br)
	tm.mark("plan")
	if prev, ok := job.Cached(ctx, out.InputsDigest); ok {
		defer tm.mark("reuse")
		return e.reuse(ctx, job, out, prev)
	}
	if job.Remote != nil {
		return e.runRemote(ctx, job, plan, src, ws, out, tm, evidenceInput{started: started, log: logw, sourceDir: src})
	}
	return e.run(ctx, job, plan, src, ws, out, tm, evidenceInput{started: started, log: logw, sourceDir: src})
}

// timings records how long each phase of a build took; the build log's
// last line lists them (kiln bench build reads it).
type timings struct {
	last   time.Time
	phases []string
}

func newTimings() *timings { return &timings{last: time.Now()} }

func (t *timings) mark(phase string) {
	now := time.Now()
	t.phases = append(t.phases, fmt.Sprintf("%s=%.1fms", phase, float64(now.Sub(t.last).Microseconds())/1000))
	t.last = now
}

// TimingsPrefix starts the build log line that lists phase durations.
const TimingsPrefix = "==> timings: "

func (t *timings) log(w io.Writer) { fmt.Fprintln(w, TimingsPrefix+strings.Join(t.phases, " ")) }

// checkout fetches the commit and exports the component's directory.
func (e *Executor) checkout(ctx context.Context, job Job, g *v1alpha1.GitSource, ws string) (string, Outcome, error) {
	ref := job.Build.Spec.Revision
	if ref == "" {
		ref = g.Revision
	}
	fmt.Fprintf(job.Log, "==> fetching %s %s\n", git.Redact(g.URL), ref)
	commit, err := e.Runs.Git.Fetch(ctx, g.URL, ref)
	if err != nil {
		return "", Outcome{}, err
	}
	src := filepath.Join(ws, "source")
	info, err := e.Runs.Git.Checkout(ctx, g.URL, commit, src, g.Context)
	if err != nil {
		return "", Outcome{Commit: commit}, err
	}
	fmt.Fprintf(job.Log, "==> commit %s (%s), tree %s\n", commit, info.Subject, info.Tree)
	return src, Outcome{Commit: commit, TreeHash: info.Tree, epoch: info.CommitTime}, nil
}

// plan loads the component's pipeline (catalog, inline or repository) and
// compiles it with the build's parameters.
func (e *Executor) plan(job Job, g *v1alpha1.GitSource, src, commit string, out *Outcome) (*pipeline.Plan, error) {
	p, source, err := loadPipeline(job.Component, src)
	if err != nil {
		return nil, err
	}
	params := map[string]any{}
	if b := job.Component.Spec.Build; b != nil {
		addParams(params, b.Params)
	}
	addParams(params, job.Build.Spec.Params)
	binnmu, err := binNMUParam(job, p, src, commit, params, out.epoch)
	if err != nil {
		return nil, err
	}
	if binnmu != "" {
		params["binnmu"] = binnmu
		fmt.Fprintf(job.Log, "==> binNMU: %s\n", strings.SplitN(binnmu, "\n", 2)[0])
	}
	plan, err := pipeline.Compile(p, params, pipeline.Context{
		PipelineRunName: job.Build.Name, Namespace: job.Build.Namespace, UID: string(job.Build.UID),
		GitURL: g.URL, GitRevision: g.Revision, GitCommit: commit, BuildCounter: int(job.Build.Status.BuildNumber),
	})
	if err != nil {
		return nil, err
	}
	out.Pipeline = &v1alpha1.BuildPipeline{Source: source, Digest: plan.Digest()}
	return plan, nil
}

func addParams(into map[string]any, ps []v1alpha1.Param) {
	for _, p := range ps {
		v := strings.TrimSpace(p.Value)
		var arr []string
		if strings.HasPrefix(v, "[") && json.Unmarshal([]byte(v), &arr) == nil {
			into[p.Name] = arr
			continue
		}
		into[p.Name] = p.Value
	}
}

func loadPipeline(c *v1alpha1.Component, src string) (*pipeline.Pipeline, string, error) {
	b := c.Spec.Build
	switch {
	case b != nil && b.PipelineRef != "":
		p, ok := pipeline.Builtin().Pipeline(b.PipelineRef)
		if !ok {
			return nil, "", fmt.Errorf("spec.build.pipelineRef: no catalog pipeline %q (have %s)", b.PipelineRef, strings.Join(pipeline.Builtin().Names(), ", "))
		}
		return p, "catalog:" + b.PipelineRef, nil
	case b != nil && b.PipelineSpec != nil:
		data, _ := json.Marshal(b.PipelineSpec)
		p, err := pipeline.Parse(data)
		if err != nil {
			return nil, "", fmt.Errorf("spec.build.pipelineSpec: %w", err)
		}
		return p, "inline", nil
	}
	p, s, err := pipeline.LoadFromRepo(src)
	if err != nil {
		return nil, "", fmt.Errorf("loading the repository's pipeline (set spec.build.pipelineRef to use a catalog pipeline): %w", err)
	}
	return p, "repository:" + strings.Join(s.Files, ","), nil
}

// inputsDigest is the build cache key: source tree, compiled plan (which
// includes params and pipeline), and the digests of the step images.
func (e *Executor) inputsDigest(ctx context.Context, job Job, tree string, plan *pipeline.Plan, br *Buildroot) string {
	h := sha256.New()
	fmt.Fprintf(h, "tree %s\nplan %s\nrunner %s\n", tree, plan.Digest(), e.runnerName())
	for _, in := range job.Build.Spec.Inputs {
		fmt.Fprintf(h, "input %s %s@%s\n", in.Component, in.Repository, in.Digest)
	}
	for _, img := range plan.Images() {
		if img == pipeline.BuildrootImage && br != nil {
			fmt.Fprintf(h, "image %s %s\n", img, br.Key)
			continue
		}
		d := "host"
		if e.Runs.CheckImage(job.Build.Namespace, img) != nil {
			return "" // the run refuses it, saying why
		}
		if img != "host" {
			desc, err := oci.Resolve(ctx, img, e.Runs.RemoteFor(img))
			if err != nil {
				return "" // unknown image digest: no caching
			}
			d = desc.Digest
		}
		fmt.Fprintf(h, "image %s %s\n", img, d)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

func (e *Executor) runnerName() string {
	if e.Runs.Sandbox == nil {
		return "none"
	}
	return e.Runs.Sandbox.Name()
}

// reuse tags the earlier build's artifact for this build.
func (e *Executor) reuse(ctx context.Context, job Job, out Outcome, prev *v1alpha1.Build) (Outcome, error) {
	a := *prev.Status.Artifact
	ref := a.Repository + "@" + a.Digest
	a.Tags = e.tags(job, out.Commit)
	if err := e.tagOutputs(ctx, job, []v1alpha1.BuildArtifact{a}); err != nil {
		return out, err
	}
	out.Outputs = []v1alpha1.BuildArtifact{a}
	out.Artifact, out.CachedFrom = &a, prev.Name
	out.Steps = prev.Status.Steps
	out.Evidence, out.ContentDigest = prev.Status.Evidence, prev.Status.ContentDigest
	if e.Attestor != nil && prev.Status.Evidence != nil {
		if err := e.Attestor.copyEvidence(job.Build.Namespace, prev.Name, job.Build.Name); err != nil {
			return out, err
		}
	}
	fmt.Fprintf(job.Log, "==> inputs %s identical to build %s: reusing %s\n", out.InputsDigest, prev.Name, ref)
	return out, nil
}

func (e *Executor) tags(job Job, commit string) []string {
	return []string{commit, buildTag(job.Build.Status.BuildNumber)}
}

// buildTag is the tag naming the artifact of a component's n-th build.
func buildTag(n int64) string { return "build-" + strconv.FormatInt(n, 10) }

// repo is where a component's artifacts go in the embedded registry.
func (e *Executor) repo(job Job) string {
	return e.repoOf(job.Build.Namespace, job.Component.Name)
}

func (e *Executor) repoOf(ns, component string) string {
	return e.Runs.Registry + "/" + ns + "/" + component
}
