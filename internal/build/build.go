// Package build turns Components into artifacts. It holds the controllers
// that number, schedule and run Builds; the executor behind an interface
// (fetch, pipeline in the sandbox, push); the build cache; and the triggers
// (polling, webhooks, new components) that create Builds.
//
//	trigger (poll / webhook / kiln build / new component)
//	   └─► Build{phase: ""} ──scheduler numbers it──► Queued
//	        ──an executor worker claims it──► Running
//	          Executor: fetch + checkout ─► load + compile pipeline ─► cache key
//	            ├─ cache hit: reuse the earlier artifact ─────────► Succeeded
//	            └─ run steps in the sandbox ─► push output ───────► Succeeded | Failed
//	   a crash while Running ─► next start re-queues it once (interrupted) ─► …
package build

import (
	"context"
	"io"
	"time"

	"github.com/kilnbuild/kiln/api/v1alpha1"
)

// Job is one build attempt handed to an Executor.
type Job struct {
	Build     *v1alpha1.Build
	Component *v1alpha1.Component
	// Log receives the build's log.
	Log io.Writer
	// Progress reports step status while the build runs.
	Progress func(steps []v1alpha1.BuildStep)
	// Cached looks up an earlier successful build of the component with the
	// same inputs digest.
	Cached func(ctx context.Context, inputsDigest string) (*v1alpha1.Build, bool)
	// Pushed records the artifacts an attempt pushed (status.outputs)
	// before they are tagged; nil records nothing.
	Pushed func(outputs []v1alpha1.BuildArtifact) error
}

// Outcome is what an attempt produced.
type Outcome struct {
	Commit       string
	TreeHash     string
	Pipeline     *v1alpha1.BuildPipeline
	Steps        []v1alpha1.BuildStep
	InputsDigest string
	Artifact     *v1alpha1.BuildArtifact
	// Outputs are every artifact pushed, the primary one (Artifact) first.
	Outputs []v1alpha1.BuildArtifact
	// CachedFrom names the build whose artifact was reused.
	CachedFrom string
	// Evidence is what was signed for Artifact.
	Evidence *v1alpha1.BuildEvidence
	// ContentDigest digests the primary output's files (early cutoff).
	ContentDigest string
	// Capabilities were detected in the source.
	Capabilities *v1alpha1.Capabilities
	// Failed means the pipeline ran and failed (Message says where); an
	// error from Execute means the build could not be run at all.
	Failed  bool
	Message string
	// epoch is the commit time, used for reproducible artifacts.
	epoch time.Time
}

// Executor runs one build attempt. It must honour ctx cancellation by
// stopping the pipeline and returning promptly.
type Executor interface {
	Execute(ctx context.Context, job Job) (Outcome, error)
}

// Untagger is an Executor that can remove the build-N tag an attempt of a
// build applied: Kiln calls it when a started build ends other than
// Succeeded.
type Untagger interface {
	Untag(ctx context.Context, b *v1alpha1.Build) error
}
