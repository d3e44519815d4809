package v1alpha1

import (
	"encoding/json"
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Build phases.
const (
	BuildQueued    = "Queued"
	BuildRunning   = "Running"
	BuildSucceeded = "Succeeded"
	BuildFailed    = "Failed"
	BuildCancelled = "Cancelled"
)

// Build reasons: why a build exists.
const (
	ReasonNewComponent = "new-component"
	ReasonSourceChange = "source-change"
	ReasonManual       = "manual"
	ReasonRetry        = "retry"
	// ReasonDependencyChange: a required component's output changed.
	ReasonDependencyChange = "dependency-change"
	// ReasonCycle: a cycle's second pass, its members' inputs changed; or
	// a member's bootstrap build (spec.build.bootstrap) in its first pass.
	ReasonCycle = "cycle-pass"
	// ReasonPullRequest: the head commit of a pull request (labelled
	// LabelEventType pull_request and LabelPullRequest).
	ReasonPullRequest = "pull-request"
)

// ConditionDependenciesResolved is a Build condition: False, with reason
// ReasonUnresolvable, when a build dependency could not be resolved (a
// package nothing in the group, the base or the archive provides): the
// build's steps did not start, and its BuildGroup member is unresolvable.
const (
	ConditionDependenciesResolved = "DependenciesResolved"
	ReasonUnresolvable            = "Unresolvable"
)

// Unresolvable reports whether the build ended because a build dependency
// could not be resolved.
func (b *Build) Unresolvable() bool {
	for _, c := range b.Status.Conditions {
		if c.Type == ConditionDependenciesResolved && c.Status == metav1.ConditionFalse {
			return true
		}
	}
	return false
}

// Label keys Kiln sets on builds.
const (
	LabelComponent   = "kiln.dev/component"
	LabelApplication = "kiln.dev/application"
	// LabelPullRequest is the number of the pull request (GitLab: merge
	// request) a build is for; such a build also has LabelEventType
	// pull_request. A pull request build never becomes the component's
	// current artifact and its Snapshot is never released.
	LabelPullRequest = "pac.test.appstudio.openshift.io/pull-request"
	// LabelGroup names the BuildGroup a member build belongs to.
	LabelGroup = "kiln.dev/buildgroup"
)

// Build is one run of a component's pipeline on one commit. Kiln creates
// builds for new commits (polling, webhooks) and `kiln build` creates them by
// hand. The spec is a record and cannot change, except to cancel.
type Build struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              BuildSpec   `json:"spec,omitempty"`
	Status            BuildStatus `json:"status,omitzero"`
}

// BuildSpec is what to build and why.
type BuildSpec struct {
	// Component is the Component (same namespace) to build. Required; the
	// build is deleted with its component.
	Component string `json:"component"`
	// Revision is a commit, branch or tag; empty means the head of the
	// component's branch when the build starts.
	Revision string `json:"revision,omitempty"`
	// Reason says why the build exists.
	Reason BuildReason `json:"reason,omitzero"`
	// Params override the component's pipeline parameters.
	Params []Param `json:"params,omitempty"`
	// NoCache runs the pipeline even when an earlier build had exactly the
	// same inputs.
	NoCache bool `json:"noCache,omitempty"`
	// Cancel asks Kiln to stop the build; the only field that may change.
	Cancel bool `json:"cancel,omitempty"`
	// Group is the BuildGroup that created the build, if any.
	Group string `json:"group,omitempty"`
	// Inputs are the exact artifacts of required components the build
	// gets, read-only, at /kiln/deps/<component>. Set by Kiln.
	Inputs []BuildInput `json:"inputs,omitempty"`
}

// BuildInput is one dependency artifact of a build.
type BuildInput struct {
	// Component is the required component.
	Component string `json:"component"`
	// Repository is its artifact's OCI repository.
	Repository string `json:"repository"`
	// Digest is the artifact's manifest digest.
	Digest string `json:"digest"`
}

// BuildReason records why a build ran.
type BuildReason struct {
	// Type is new-component, source-change, manual or retry (more come with
	// the dependency graph).
	Type string `json:"type,omitempty"`
	// Message explains, e.g. "main moved from 1a2b3c to 4d5e6f".
	Message string `json:"message,omitempty"`
	// By is who asked: a user for manual builds, or the trigger
	// ("poll", "webhook:github").
	By string `json:"by,omitempty"`
	// PreviousCommit is the commit built before, for source changes.
	PreviousCommit string `json:"previousCommit,omitempty"`
	// Component is the dependency whose change caused the build
	// (dependency-change).
	Component string `json:"component,omitempty"`
	// Build is the dependency's build that produced the change.
	Build string `json:"build,omitempty"`
	// OldDigest and NewDigest are the dependency's artifact before and
	// after.
	OldDigest string `json:"oldDigest,omitempty"`
	// NewDigest is the dependency's new artifact.
	NewDigest string `json:"newDigest,omitempty"`
}

// BuildStatus is written by Kiln.
type BuildStatus struct {
	// ObservedGeneration is the metadata.generation last acted upon.
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Phase is Queued, Running, Succeeded, Failed or Cancelled.
	Phase string `json:"phase,omitempty"`
	// BuildNumber counts the component's builds, from 1.
	BuildNumber int64 `json:"buildNumber,omitempty"`
	// Commit is the commit built.
	Commit string `json:"commit,omitempty"`
	// TreeHash is the git tree hash of the built directory (the component's
	// context at Commit).
	TreeHash string `json:"treeHash,omitempty"`
	// QueuedTime is when the build was queued.
	QueuedTime *metav1.Time `json:"queuedTime,omitempty"`
	// StartTime is when it started running.
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// CompletionTime is when it ended.
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
	// Pipeline says which pipeline ran.
	Pipeline *BuildPipeline `json:"pipeline,omitempty"`
	// Steps are the pipeline's steps with their timings and outcomes.
	Steps []BuildStep `json:"steps,omitempty"`
	// Artifact is the pushed output.
	Artifact *BuildArtifact `json:"artifact,omitempty"`
	// Outputs are every artifact the build pushed, the primary one
	// (Artifact) first, with the tags Kiln applies once they are signed.
	// Recorded before tagging, so a build that then fails has its build-N
	// tag removed from each.
	Outputs []BuildArtifact `json:"outputs,omitempty"`
	// InputsDigest is the build cache key: a digest of the source tree,
	// pipeline, parameters, images and dependency artifacts.
	InputsDigest string `json:"inputsDigest,omitempty"`
	// CachedFrom names the earlier build whose artifact was reused because
	// the inputs were identical; empty when the pipeline ran.
	CachedFrom string `json:"cachedFrom,omitempty"`
	// Evidence is the signed supply-chain evidence pushed next to the
	// artifact: signature, SLSA provenance and SBOM.
	Evidence *BuildEvidence `json:"evidence,omitempty"`
	// ContentDigest digests the artifact's files (paths, modes, contents;
	// not timestamps): equal digests mean an identical output.
	ContentDigest string `json:"contentDigest,omitempty"`
	// Unchanged is set when the output is identical to the component's
	// previous artifact (early cutoff): that artifact stays current and
	// nothing downstream is rebuilt.
	Unchanged bool `json:"unchanged,omitempty"`
	// Capabilities are what the built source provides and requires.
	Capabilities *Capabilities `json:"capabilities,omitempty"`
	// Attempts counts how many times the build started; a build interrupted
	// by a crash is retried once.
	Attempts int `json:"attempts,omitempty"`
	// Interrupted is set when a server crash interrupted an attempt.
	Interrupted bool `json:"interrupted,omitempty"`
	// Message explains the outcome, e.g. the failing step.
	Message string `json:"message,omitempty"`
	// Conditions describe the build's state. A build retried because the
	// remote worker running it lost its lease has a WorkerLost condition.
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// Lease is held by the remote worker running the build, if any.
	Lease *BuildLease `json:"lease,omitempty"`
}

// BuildLease is a remote worker's hold on a running build (the shape of a
// Kubernetes coordination Lease). The worker renews it; when it lapses the
// build is taken back and Generation moves on, so whatever the old holder
// still sends (logs, reports, pushes) is refused.
type BuildLease struct {
	// Holder is the worker's name.
	Holder string `json:"holder"`
	// Platform is the os/arch the build runs on.
	Platform string `json:"platform,omitempty"`
	// Generation counts the leases given out for this build; every
	// request of the holder names it (fencing).
	Generation int64 `json:"generation"`
	// AcquireTime is when the holder got the lease.
	AcquireTime *metav1.MicroTime `json:"acquireTime,omitempty"`
	// RenewTime is when the holder last renewed it.
	RenewTime *metav1.MicroTime `json:"renewTime,omitempty"`
	// DurationSeconds is how long after RenewTime the lease lapses.
	DurationSeconds float64 `json:"durationSeconds,omitempty"`
	// Released is set once the lease ended (the build finished or was
	// taken back); the fields above say who held it last.
	Released bool `json:"released,omitempty"`
}

// Expiry is when the lease lapses unless renewed.
func (l *BuildLease) Expiry() time.Time {
	if l == nil || l.RenewTime == nil {
		return time.Time{}
	}
	return l.RenewTime.Add(time.Duration(l.DurationSeconds * float64(time.Second)))
}

// Live reports whether the lease is held at now.
func (l *BuildLease) Live(now time.Time) bool {
	return l != nil && !l.Released && now.Before(l.Expiry())
}

// ConditionWorkerLost is the condition of a build whose remote worker lost
// its lease (killed, partitioned): the build was retried or failed.
const ConditionWorkerLost = "WorkerLost"

// BuildPipeline identifies the pipeline a build ran.
type BuildPipeline struct {
	// Source is "repository:.kiln/pipeline.yaml", "inline" or
	// "catalog:NAME".
	Source string `json:"source,omitempty"`
	// Digest is the sha256 of the compiled pipeline.
	Digest string `json:"digest,omitempty"`
}

// BuildStep is one step of a build.
type BuildStep struct {
	// Task is the pipeline task the step belongs to.
	Task string `json:"task"`
	// Name is the step's name.
	Name string `json:"name"`
	// Image is the step's image reference, or "host".
	Image string `json:"image,omitempty"`
	// ImageDigest is the digest of the image the step ran in.
	ImageDigest string `json:"imageDigest,omitempty"`
	// Phase is Running, Succeeded, Failed, Skipped or Cancelled.
	Phase string `json:"phase,omitempty"`
	// StartTime is when the step started.
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// CompletionTime is when the step ended.
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
	// ExitCode is the step's exit status.
	ExitCode int `json:"exitCode,omitempty"`
	// Reason says why the sandbox stopped the step (timeout, output-limit,
	// memory-limit, cancelled), if it did.
	Reason string `json:"reason,omitempty"`
	// Network is true for a step that had network access: a prefetch
	// step. Every other step runs without any.
	Network bool `json:"network,omitempty"`
}

// BuildArtifact is an artifact pushed to a registry.
type BuildArtifact struct {
	// Repository is the OCI repository, e.g. 127.0.0.1:7070/team/greet.
	Repository string `json:"repository"`
	// Digest is the manifest digest.
	Digest string `json:"digest"`
	// Tags are the tags pushed (commit, build-N).
	Tags []string `json:"tags,omitempty"`
	// ArtifactType is the OCI artifact type, or the image media type.
	ArtifactType string `json:"artifactType,omitempty"`
}

// BuildEvidence locates what Kiln signed for the artifact, using cosign's
// tag conventions in the artifact's repository.
type BuildEvidence struct {
	// Signature is the cosign signature manifest (repo:sha256-HEX.sig@digest).
	Signature string `json:"signature"`
	// Attestations is the manifest of DSSE-signed in-toto statements
	// (repo:sha256-HEX.att@digest): SLSA provenance and the SPDX SBOM.
	Attestations string `json:"attestations"`
	// SBOM is the plain SPDX SBOM manifest (repo:sha256-HEX.sbom@digest).
	SBOM string `json:"sbom,omitempty"`
	// PredicateTypes are the attested statements' predicate types.
	PredicateTypes []string `json:"predicateTypes,omitempty"`
	// BuilderID is the SLSA builder id the provenance names.
	BuilderID string `json:"builderId"`
	// KeyID is sha256 of the signing public key (DER), to tell keys apart.
	KeyID string `json:"keyId"`
	// SBOMPackages counts the packages the SBOM lists.
	SBOMPackages int `json:"sbomPackages,omitempty"`
	// SBOMFiles counts the files the SBOM lists.
	SBOMFiles int `json:"sbomFiles,omitempty"`
}

// Finished reports whether the build reached a final phase.
func (b *Build) Finished() bool {
	switch b.Status.Phase {
	case BuildSucceeded, BuildFailed, BuildCancelled:
		return true
	}
	return false
}

// PullRequest reports whether the build is of a pull request (labelled
// LabelEventType pull_request): it leaves the component's status alone.
func (b *Build) PullRequest() bool {
	return b.Labels[LabelEventType] == EventPullRequest
}

// Validate checks the spec.
func (b *Build) Validate() field.ErrorList {
	p := field.NewPath("spec")
	errs := refName(p.Child("component"), b.Spec.Component, "Component")
	errs = append(errs, validateParams(p.Child("params"), b.Spec.Params)...)
	if t := b.Spec.Reason.Type; t != "" {
		errs = append(errs, oneOf(p.Child("reason", "type"), t, ReasonNewComponent, ReasonSourceChange, ReasonManual, ReasonRetry,
			ReasonDependencyChange, ReasonCycle, ReasonPullRequest)...)
	}
	return append(errs, b.validatePullRequest()...)
}

// validatePullRequest keeps a pull request build's reason and labels in
// agreement.
func (b *Build) validatePullRequest() field.ErrorList {
	labels := field.NewPath("metadata", "labels")
	var errs field.ErrorList
	if n, ok := b.Labels[LabelPullRequest]; ok {
		if v, err := strconv.Atoi(n); err != nil || v <= 0 {
			errs = append(errs, field.Invalid(labels.Key(LabelPullRequest), n, "must be the pull request's number"))
		}
	}
	if b.Spec.Reason.Type == ReasonPullRequest && (!b.PullRequest() || b.Labels[LabelPullRequest] == "") {
		errs = append(errs, field.Invalid(field.NewPath("spec", "reason", "type"), ReasonPullRequest, "a pull-request build needs the labels "+
			LabelEventType+": "+EventPullRequest+" and "+LabelPullRequest+": <number>"))
	}
	if b.PullRequest() && b.Spec.Group != "" {
		errs = append(errs, field.Invalid(labels.Key(LabelEventType), EventPullRequest, "a build group's builds cannot be pull request builds"))
	}
	return errs
}

// ValidateUpdate allows only spec.cancel to change.
func (b *Build) ValidateUpdate(old Object) field.ErrorList {
	o := old.(*Build)
	before, after := o.Spec, b.Spec
	before.Cancel, after.Cancel = false, false
	if string(mustJSON(before)) != string(mustJSON(after)) {
		return field.ErrorList{field.Forbidden(field.NewPath("spec"), "a build is a record: only spec.cancel may change; start a new build instead")}
	}
	return nil
}

func init() {
	register(&Kind{
		Group: Group, Version: Version, Kind: "Build",
		Plural: "builds", Singular: "build", ShortNames: []string{"b"},
		Namespaced: true, HasStatus: true,
		New:     func() Object { return &Build{} },
		Columns: buildColumns,
		Fields: func(o Object) map[string]string {
			b := o.(*Build)
			return map[string]string{"spec.component": b.Spec.Component, "status.phase": b.Status.Phase,
				"spec.group": b.Spec.Group, "spec.reason.type": b.Spec.Reason.Type,
				"spec.reason.component": b.Spec.Reason.Component, "spec.reason.build": b.Spec.Reason.Build}
		},
		Refs: func(o Object) []Ref {
			b := o.(*Build)
			return []Ref{{Kind: "Component", Namespace: b.Namespace, Name: b.Spec.Component,
				Path: field.NewPath("spec", "component"), Owner: true}}
		},
	})
}

var buildColumns = []Column{
	{Name: "Component", Type: "string", Value: func(o Object) string { return o.(*Build).Spec.Component }},
	{Name: "Number", Type: "integer", Value: func(o Object) string {
		if n := o.(*Build).Status.BuildNumber; n > 0 {
			return strconv.FormatInt(n, 10)
		}
		return ""
	}},
	{Name: "Phase", Type: "string", Value: func(o Object) string { return o.(*Build).Status.Phase }},
	{Name: "Commit", Type: "string", Value: func(o Object) string { return shortCommit(o.(*Build).Status.Commit) }},
	{Name: "Reason", Type: "string", Value: func(o Object) string { return o.(*Build).Spec.Reason.Type }},
	{Name: "Artifact", Type: "string", Priority: 1, Value: func(o Object) string {
		if a := o.(*Build).Status.Artifact; a != nil {
			return a.Digest
		}
		return ""
	}},
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
