package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Release is the record of releasing one Snapshot through one ReleasePlan.
// Its spec cannot change after creation; Kiln writes the outcome to status.
type Release struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              ReleaseSpec   `json:"spec,omitempty"`
	Status            ReleaseStatus `json:"status,omitzero"`
}

// ReleaseSpec is immutable once created.
type ReleaseSpec struct {
	// Snapshot is the name of the Snapshot (same namespace) to release.
	// Required.
	Snapshot string `json:"snapshot"`
	// ReleasePlan is the name of the ReleasePlan (same namespace) to
	// release through. Required.
	ReleasePlan string `json:"releasePlan"`
	// Data is free-form JSON (any object) passed to the release pipelines
	// together with the plan's and the admission's data.
	Data map[string]any `json:"data,omitempty"`
	// GracePeriodDays is how many days the Release is kept after it
	// completes; 0 or unset means the plan's releaseGracePeriodDays.
	GracePeriodDays int `json:"gracePeriodDays,omitempty"`
}

// ReleaseStatus is written by Kiln.
type ReleaseStatus struct {
	// Conditions: Validated, TenantPipelineProcessed, PolicyPassed,
	// ManagedPipelineProcessed, FinalPipelineProcessed and Released.
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// StartTime is when Kiln started processing the Release.
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// CompletionTime is when it finished, released or not.
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
	// Attribution says who released.
	Attribution ReleaseAttribution `json:"attribution,omitzero"`
	// Target is the managed namespace released into.
	Target string `json:"target,omitempty"`
	// Admission is the ReleasePlanAdmission that accepted the release,
	// namespace/name.
	Admission string `json:"admission,omitempty"`
	// Phase is the step being run or the outcome: Validating, Tenant,
	// Policy, Managed, Final, Succeeded or Failed.
	Phase string `json:"phase,omitempty"`
	// Policy is the policy verdict.
	Policy *PolicyVerdict `json:"policy,omitempty"`
	// Pipelines records each pipeline run: tenant, managed, final.
	Pipelines []ReleasePipelineRun `json:"pipelines,omitempty"`
	// Retries records transient failures that were retried.
	Retries []ReleaseRetry `json:"retries,omitempty"`
	// Artifacts is what the managed pipeline published (destinations,
	// digests, tags), free-form.
	Artifacts map[string]any `json:"artifacts,omitempty"`
}

// ReleaseAttribution says who released.
type ReleaseAttribution struct {
	// Author is the user who created the Release; for automated releases,
	// the author of the ReleasePlan.
	Author string `json:"author,omitempty"`
	// Automated is true when Kiln created the Release (auto-release).
	Automated bool `json:"automated,omitempty"`
}

// Release phases.
const (
	ReleaseValidating = "Validating"
	ReleaseTenant     = "Tenant"
	ReleasePolicy     = "Policy"
	ReleaseManaged    = "Managed"
	ReleaseFinal      = "Final"
	ReleaseSucceeded  = "Succeeded"
	ReleaseFailed     = "Failed"
)

// Release condition types (besides ConditionReleased).
const (
	ConditionValidated                = "Validated"
	ConditionTenantPipelineProcessed  = "TenantPipelineProcessed"
	ConditionPolicyPassed             = "PolicyPassed"
	ConditionManagedPipelineProcessed = "ManagedPipelineProcessed"
	ConditionFinalPipelineProcessed   = "FinalPipelineProcessed"
)

// Finished reports whether the Release reached Succeeded or Failed.
func (r *Release) Finished() bool {
	return r.Status.Phase == ReleaseSucceeded || r.Status.Phase == ReleaseFailed
}

// PolicyVerdict is the result of a Policy on every component of a Snapshot.
type PolicyVerdict struct {
	// Policy is the Policy, namespace/name.
	Policy string `json:"policy"`
	// Digest identifies the policy's sources (sha256).
	Digest string `json:"digest,omitempty"`
	// Passed is true when no component has a violation.
	Passed bool `json:"passed"`
	// Violations, Warnings and Successes are totals over the components.
	Violations int `json:"violations"`
	// Warnings is the number of warnings.
	Warnings int `json:"warnings"`
	// Successes is the number of rules that passed.
	Successes int `json:"successes"`
	// Components is the per-component result.
	Components []ComponentVerdict `json:"components,omitempty"`
	// EvaluatedTime is when the policy ran.
	EvaluatedTime *metav1.Time `json:"evaluatedTime,omitempty"`
}

// ComponentVerdict is the policy's result for one artifact.
type ComponentVerdict struct {
	// Name is the component.
	Name string `json:"name"`
	// ContainerImage is the artifact checked.
	ContainerImage string `json:"containerImage"`
	// Violations are the failed rules: code and message.
	Violations []PolicyResult `json:"violations,omitempty"`
	// Warnings are rules that warned (including future-dated ones).
	Warnings []PolicyResult `json:"warnings,omitempty"`
	// Successes counts the rules that passed.
	Successes int `json:"successes"`
}

// PolicyResult is one rule's finding.
type PolicyResult struct {
	// Code is <package>.<short_name>, e.g. attestation.signature_valid.
	Code string `json:"code"`
	// Message says what is wrong.
	Message string `json:"msg"`
	// EffectiveOn is when a warning becomes a violation, if future-dated.
	EffectiveOn string `json:"effectiveOn,omitempty"`
}

// ReleasePipelineRun is one pipeline run of a Release.
type ReleasePipelineRun struct {
	// Role is tenant, managed or final.
	Role string `json:"role"`
	// Namespace is where it ran (the managed namespace for managed).
	Namespace string `json:"namespace"`
	// Pipeline is what ran, e.g. catalog:push-to-registry.
	Pipeline string `json:"pipeline"`
	// Status is Running (recorded before the run starts), Succeeded,
	// Failed, or Interrupted (a server restart ended it; the phase runs it
	// again once).
	Status string `json:"status"`
	// Message says why it failed.
	Message string `json:"message,omitempty"`
	// StartTime and CompletionTime bound the run.
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// CompletionTime is when the run finished.
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
}

// Pipeline run states beyond Succeeded and Failed.
const (
	PipelineRunRunning     = "Running"
	PipelineRunInterrupted = "Interrupted"
)

// ReleaseRetry is a transient failure Kiln retried.
type ReleaseRetry struct {
	// Phase is the step that failed.
	Phase string `json:"phase"`
	// Message is the error.
	Message string `json:"message"`
	// Time is when it failed.
	Time metav1.Time `json:"time"`
}

func (r *Release) Validate() field.ErrorList {
	p := field.NewPath("spec")
	errs := refName(p.Child("snapshot"), r.Spec.Snapshot, "Snapshot")
	errs = append(errs, refName(p.Child("releasePlan"), r.Spec.ReleasePlan, "ReleasePlan")...)
	return append(errs, validateNonNegative(p.Child("gracePeriodDays"), r.Spec.GracePeriodDays)...)
}

// ValidateUpdate rejects any change to the spec.
func (r *Release) ValidateUpdate(old Object) field.ErrorList {
	return immutableSpec("Release", old, r)
}

func init() {
	register(&Kind{
		Group: Group, Version: Version, Kind: "Release",
		Plural: "releases", Singular: "release", ShortNames: []string{"rel"},
		Namespaced: true, HasStatus: true, ImmutableSpec: true,
		New: func() Object { return &Release{} },
		Columns: []Column{
			{Name: "Snapshot", Type: "string", Value: func(o Object) string { return o.(*Release).Spec.Snapshot }},
			{Name: "ReleasePlan", Type: "string", Value: func(o Object) string { return o.(*Release).Spec.ReleasePlan }},
			{Name: "Phase", Type: "string", Value: func(o Object) string { return o.(*Release).Status.Phase }},
			{Name: "Status", Type: "string", Value: func(o Object) string {
				return reasonOr(o.(*Release).Status.Conditions, ConditionReleased, "Pending")
			}},
			{Name: "Author", Type: "string", Priority: 1, Value: func(o Object) string { return o.(*Release).Status.Attribution.Author }},
		},
		Fields: func(o Object) map[string]string {
			r := o.(*Release)
			return map[string]string{"spec.snapshot": r.Spec.Snapshot, "spec.releasePlan": r.Spec.ReleasePlan}
		},
		Refs: func(o Object) []Ref {
			r := o.(*Release)
			return []Ref{
				{Kind: "Snapshot", Namespace: r.Namespace, Name: r.Spec.Snapshot, Path: field.NewPath("spec", "snapshot")},
				{Kind: "ReleasePlan", Namespace: r.Namespace, Name: r.Spec.ReleasePlan, Path: field.NewPath("spec", "releasePlan")},
			}
		},
	})
}
