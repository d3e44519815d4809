// Package executor runs one attempt of a Build: it fetches and exports
// the component's source, loads and compiles its pipeline, looks up the
// build cache, runs the steps in the sandbox (through pipelinerun),
// pushes the outputs, signs them and keeps the evidence.
//
//	Job ─► fetch + checkout ─► detect capabilities ─► load + compile pipeline ─► inputs digest
//	  ├─ cache hit: tag the earlier build's artifact ─────────────────────────► Outcome
//	  └─ pull inputs ─► steps in the sandbox ─► push ─► sign ─► tag ───────────► Outcome
package executor

import (
	"context"
	"io"
	"time"

	"github.com/kilnbuild/kiln/api/v1alpha1"
)

// Job is one build attempt handed to the Executor.
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
	// Remote, when set, runs the steps on a remote worker; this server
	// still fetches the source, compiles the pipeline, looks up the cache,
	// signs and tags.
	Remote Remote
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
	// Unresolvable means a build dependency could not be resolved (with
	// Failed): the steps did not start.
	Unresolvable bool
	// Buildroot is the composed buildroot the steps ran in, if any: its
	// key and the packages installed into the base.
	Buildroot *Buildroot
	// epoch is the commit time, used for reproducible artifacts.
	epoch time.Time
}
