package executor

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/attest"
	"github.com/kilnbuild/kiln/internal/oci"
	"github.com/kilnbuild/kiln/internal/pipeline"
)

// Remote runs an attempt's steps on a remote worker (internal/remote): it
// hands the worker the task, streams the worker's log into job.Log and
// returns what the worker reports.
type Remote interface {
	RunRemote(ctx context.Context, job Job, task RemoteTask) (RemoteReport, error)
}

// RemoteTask is what the server hands a worker for one attempt. It holds
// no secret: the source comes as a tree (never the git credentials), and
// the worker pushes with a token the Remote issues for the build's
// repository only.
type RemoteTask struct {
	// Plan is the compiled plan with every step and base image pinned by
	// the digest this server resolved.
	Plan *pipeline.Plan
	// SourceDir is the exported source, served to the worker as a tar.
	SourceDir string
	// Commit is the source's commit, Epoch its time (SOURCE_DATE_EPOCH).
	Commit string
	Epoch  time.Time
	// Registry is this server's registry name in the plan's references;
	// Repository is the component's repository below it
	// (<namespace>/<component>), where the outputs go.
	Registry, Repository string
}

// RemoteReport is what a worker says it did; the server takes none of it
// on trust where it can check it (outputs must be in the build's
// repository and in the registry; step images are the ones handed out).
type RemoteReport struct {
	Worker, Platform string
	Steps            []v1alpha1.BuildStep
	// Outputs are the artifacts pushed, the primary one first, named by
	// the repository the worker pushed to.
	Outputs    []v1alpha1.BuildArtifact
	Prefetched []pipeline.FileRecord
	Failed     bool
	Message    string
}

// workerReported lists the provenance fields that rest on a worker's word.
var workerReported = []string{"subject (the output digest pushed by the worker)",
	"resolvedDependencies[kiln:prefetch/*] (files the worker's prefetch steps fetched)",
	"runDetails.byproducts[build.log] (the log the worker streamed)"}

// runRemote has a worker run the steps, then checks, signs and tags what
// it pushed.
func (e *Executor) runRemote(ctx context.Context, job Job, plan *pipeline.Plan, src, ws string, out Outcome, tm *timings, ev evidenceInput) (Outcome, error) {
	task, digests, err := e.remoteTask(ctx, job, plan, src, out.Commit, out.epoch)
	if err != nil {
		return out, err
	}
	rep, err := job.Remote.RunRemote(ctx, job, task)
	tm.mark("remote")
	if err != nil {
		return out, err
	}
	out.Steps = handedOut(rep.Steps, plan, digests)
	if rep.Failed {
		out.Failed, out.Message = true, fmt.Sprintf("on worker %s: %s", rep.Worker, rep.Message)
		return out, nil
	}
	if out, err = e.acceptOutputs(job, rep.Outputs, out); err != nil || out.Artifact == nil {
		return out, err
	}
	dir := filepath.Join(ws, "output")
	ref := out.Artifact.Repository + "@" + out.Artifact.Digest
	if _, err := oci.Pull(ctx, ref, dir, e.Runs.RemoteFor(ref)); err != nil {
		return out, fmt.Errorf("the output worker %s reported: %w", rep.Worker, err)
	}
	if out.ContentDigest, err = ContentDigest(dir); err != nil {
		return out, err
	}
	out.Message = fmt.Sprintf("pushed %s by worker %s", ref, rep.Worker)
	ev.prefetched = rep.Prefetched
	ev.worker = &attest.WorkerRun{Name: rep.Worker, Platform: rep.Platform, Reported: workerReported}
	return e.signAndTag(ctx, job, out, dir, ev, tm)
}

// remoteTask pins the plan's images by digest and describes the task.
func (e *Executor) remoteTask(ctx context.Context, job Job, plan *pipeline.Plan, src, commit string, epoch time.Time) (RemoteTask, map[string]string, error) {
	pinned, digests, err := e.pinImages(ctx, job.Build.Namespace, plan)
	if err != nil {
		return RemoteTask{}, nil, err
	}
	return RemoteTask{Plan: pinned, SourceDir: src, Commit: commit, Epoch: epoch, Registry: e.Runs.Registry,
		Repository: job.Build.Namespace + "/" + job.Component.Name}, digests, nil
}

// pinImages returns a copy of plan whose step and base images are
// name@digest as this server resolves them now, and those digests.
func (e *Executor) pinImages(ctx context.Context, ns string, plan *pipeline.Plan) (*pipeline.Plan, map[string]string, error) {
	raw, err := json.Marshal(plan)
	if err != nil {
		return nil, nil, err
	}
	cp := &pipeline.Plan{}
	if err := json.Unmarshal(raw, cp); err != nil {
		return nil, nil, err
	}
	digests := map[string]string{}
	pin := func(img string) (string, error) {
		if img == "" || img == pipeline.HostImage {
			return img, nil
		}
		d, err := e.resolveImage(ctx, ns, img)
		digests[img] = d
		return pinnedRef(img, d), err
	}
	for _, list := range [][]*pipeline.PlanTask{cp.Tasks, cp.Finally} {
		for _, t := range list {
			for _, s := range t.Steps {
				if s.Image, err = pin(s.Image); err != nil {
					return nil, nil, err
				}
			}
		}
	}
	for i := range cp.Outputs {
		if c := cp.Outputs[i].Image; c != nil && c.Base != "" {
			if c.Base, err = pin(c.Base); err != nil {
				return nil, nil, err
			}
		}
	}
	return cp, digests, nil
}

func (e *Executor) resolveImage(ctx context.Context, ns, img string) (string, error) {
	if err := e.Runs.CheckImage(ns, img); err != nil {
		return "", err
	}
	desc, err := oci.Resolve(ctx, img, e.Runs.RemoteFor(img))
	if err != nil {
		return "", fmt.Errorf("resolving step image %s for a remote worker: %w", img, err)
	}
	return desc.Digest, nil
}

// pinnedRef is img's repository at digest d (its tag or digest replaced).
func pinnedRef(img, d string) string {
	repo, _, _ := strings.Cut(img, "@")
	slash := strings.LastIndex(repo, "/")
	if colon := strings.LastIndex(repo, ":"); colon > slash {
		repo = repo[:colon]
	}
	return repo + "@" + d
}

// handedOut is the worker's step report with each step's image as this
// server handed it out (the original reference and the pinned digest),
// whatever the worker wrote there.
func handedOut(steps []v1alpha1.BuildStep, plan *pipeline.Plan, digests map[string]string) []v1alpha1.BuildStep {
	images := map[string]string{}
	for _, list := range [][]*pipeline.PlanTask{plan.Tasks, plan.Finally} {
		for _, t := range list {
			for _, s := range t.Steps {
				images[t.Name+"/"+s.Name] = s.Image
			}
		}
	}
	var out []v1alpha1.BuildStep
	for _, s := range steps {
		img, ok := images[s.Task+"/"+s.Name]
		if !ok {
			continue // not a step of the plan: dropped
		}
		s.Image, s.ImageDigest = img, digests[img]
		out = append(out, s)
	}
	return out
}

// acceptOutputs takes the outputs a worker reports: each must be in the
// component's repository (or one below it), named on this server, the
// primary one first; the tags are this server's.
func (e *Executor) acceptOutputs(job Job, reported []v1alpha1.BuildArtifact, out Outcome) (Outcome, error) {
	if len(reported) == 0 {
		out.Message = "succeeded; the pipeline declares no output, nothing was pushed"
		return out, nil
	}
	home := e.repo(job)
	for i, a := range reported {
		_, sub, ok := strings.Cut(a.Repository, "/"+job.Build.Namespace+"/"+job.Component.Name)
		if !ok || (sub != "" && !strings.HasPrefix(sub, "/")) || (i == 0 && sub != "") {
			return out, fmt.Errorf("the worker reported output %s outside the build's repository %s", a.Repository, home)
		}
		if !strings.HasPrefix(a.Digest, "sha256:") {
			return out, fmt.Errorf("the worker reported output %s with digest %q: want sha256:<hex>", a.Repository, a.Digest)
		}
		a.Repository, a.Tags = home+sub, e.tags(job, out.Commit)
		out.Outputs = append(out.Outputs, a)
	}
	out.Artifact = &out.Outputs[0]
	return out, nil
}

// RunSteps is the part of an attempt a remote worker runs: the plan's
// steps in this executor's sandbox, then the outputs pushed to its
// registry. src holds the source of commit; ws is the attempt's work
// directory.
// It returns the outcome (steps, outputs, failure) and the files the
// prefetch steps fetched.
func (e *Executor) RunSteps(ctx context.Context, job Job, plan *pipeline.Plan, src, ws, commit string, epoch time.Time) (Outcome, []pipeline.FileRecord, error) {
	out := Outcome{Commit: commit, epoch: epoch}
	out, _, res, err := e.runSteps(ctx, job, plan, src, ws, out, newTimings())
	var prefetched []pipeline.FileRecord
	if res != nil {
		prefetched = res.Prefetched
	}
	return out, prefetched, err
}
