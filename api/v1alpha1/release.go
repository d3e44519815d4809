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
	// Conditions: Released (reason Succeeded, Failed, Progressing...).
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// StartTime is when processing started.
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// CompletionTime is when processing finished, successfully or not.
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
	// Attribution says who released.
	Attribution ReleaseAttribution `json:"attribution,omitzero"`
	// Target is the managed namespace released into.
	Target string `json:"target,omitempty"`
	// Artifacts is free-form JSON the release pipelines report (e.g. the
	// image references pushed).
	Artifacts map[string]any `json:"artifacts,omitempty"`
}

// ReleaseAttribution says who released.
type ReleaseAttribution struct {
	// Author is the user who created the Release, or the ServiceAccount
	// subject for automated releases.
	Author string `json:"author,omitempty"`
	// Automated is true when Kiln created the Release (auto-release).
	Automated bool `json:"automated,omitempty"`
}

// Validate checks the spec.
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
			{Name: "Status", Type: "string", Value: func(o Object) string {
				return reasonOr(o.(*Release).Status.Conditions, ConditionReleased, "Pending")
			}},
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
