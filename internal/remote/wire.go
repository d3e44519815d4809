// Package remote dispatches builds to remote workers (`kiln worker`): the
// server side of the worker protocol. A worker long-polls for a lease on
// a build of its platform; the server hands it the compiled plan (images
// pinned by digest), the source as a tar and a push token scoped to the
// build's repository; the worker runs the steps in its own sandbox,
// streams the log back, pushes the outputs and reports them. The server
// checks what it can, signs and tags: the signing key never leaves it.
//
//	worker ──POST /workers/v1/lease (platform, capacity)──────► Task (generation G, push token)
//	       ──GET  …/builds/NS/NAME/source?generation=G────────► tar of the source
//	       ──POST …/renew {G} (every lease/3)──────────────────► expiry | 409 lease lost
//	       ──POST …/log?generation=G, …/progress {G, steps}───► build log, status.steps
//	       ──POST …/complete {G, report}───────────────────────► the server signs and tags
//
// Leases live on the Build (status.lease: holder, generation, renew time,
// duration) and are written with the store's optimistic concurrency, so
// fencing holds across restarts and for any replica reading the build: a
// lease that lapsed is taken back (the generation moves on, the push
// token is deleted) and the build is retried once; whatever the old
// holder sends afterwards is refused.
package remote

import (
	"time"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/pipeline"
)

// PathPrefix is where the worker protocol is served.
const PathPrefix = "/workers/v1/"

// LeaseRequest is a worker asking for a build.
type LeaseRequest struct {
	// Platform is the os/arch the worker runs builds for; its token must
	// allow it.
	Platform string `json:"platform"`
	// Capacity is how many builds the worker runs at once; Running is how
	// many it runs now.
	Capacity int `json:"capacity"`
	Running  int `json:"running"`
}

// Task is one build attempt handed to a worker.
type Task struct {
	Namespace  string `json:"namespace"`
	Build      string `json:"build"`
	Component  string `json:"component"`
	Generation int64  `json:"generation"`
	// LeaseSeconds is the lease's duration: renew well within it, and stop
	// the build if it could not be renewed for that long.
	LeaseSeconds float64 `json:"leaseSeconds"`
	// PushToken may push to Repository (and below) and pull in Namespace,
	// until the lease ends.
	PushToken string `json:"pushToken"`
	// Registry is the server's registry name in the plan's references;
	// the worker reaches it at the server's address.
	Registry   string `json:"registry"`
	Repository string `json:"repository"`
	GitURL     string `json:"gitURL"`
	Commit     string `json:"commit"`
	// Epoch is the commit time (SOURCE_DATE_EPOCH).
	Epoch       time.Time             `json:"epoch"`
	BuildNumber int64                 `json:"buildNumber"`
	Inputs      []v1alpha1.BuildInput `json:"inputs,omitempty"`
	Plan        *pipeline.Plan        `json:"plan"`
}

// Renewal asks to extend a lease.
type Renewal struct {
	Generation int64 `json:"generation"`
}

// RenewResponse says until when the lease is held, and whether the build
// was cancelled (the worker then stops it and reports).
type RenewResponse struct {
	Expires time.Time `json:"expires"`
	Cancel  bool      `json:"cancel,omitempty"`
}

// Progress reports step status.
type Progress struct {
	Generation int64                `json:"generation"`
	Steps      []v1alpha1.BuildStep `json:"steps"`
}

// Completion is a worker's report of an attempt.
type Completion struct {
	Generation int64                    `json:"generation"`
	Steps      []v1alpha1.BuildStep     `json:"steps,omitempty"`
	Outputs    []v1alpha1.BuildArtifact `json:"outputs,omitempty"`
	Prefetched []pipeline.FileRecord    `json:"prefetched,omitempty"`
	// Failed is set when the pipeline ran and failed; Error when the
	// worker could not run it. Message says why.
	Failed  bool   `json:"failed,omitempty"`
	Error   bool   `json:"error,omitempty"`
	Message string `json:"message,omitempty"`
}
