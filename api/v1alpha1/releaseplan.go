package v1alpha1

import (
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// LabelAutoRelease on a ReleasePlan says whether Snapshots that pass their
// tests are released automatically ("true") or only by creating a Release
// ("false"). As in Konflux, a missing label means "true"; Default writes it.
const LabelAutoRelease = "release.appstudio.openshift.io/auto-release"

// DefaultReleaseGracePeriodDays is how long Releases of a plan are kept.
const DefaultReleaseGracePeriodDays = 7

// ReleasePlan is a tenant's request to release an Application into a managed
// namespace. A ReleasePlanAdmission in that namespace must accept it.
type ReleasePlan struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              ReleasePlanSpec   `json:"spec,omitempty"`
	Status            ReleasePlanStatus `json:"status,omitzero"`
}

// ReleasePlanSpec is what the user asks for.
type ReleasePlanSpec struct {
	// Application is the name of the Application (same namespace) to
	// release. Required. Deleting the Application deletes the plan.
	Application string `json:"application"`
	// Target is the managed namespace to release into (a DNS-1123 label).
	// Required. It need not exist yet: the plan stays unmatched until a
	// ReleasePlanAdmission there accepts it.
	Target string `json:"target"`
	// Data is free-form JSON (any object) passed to the release pipelines
	// together with the Release's and the admission's data.
	Data map[string]any `json:"data,omitempty"`
	// TenantPipeline runs in the tenant namespace for each release, before
	// the managed pipeline. Optional.
	TenantPipeline *Pipeline `json:"tenantPipeline,omitempty"`
	// FinalPipeline runs in the tenant namespace after the managed pipeline
	// finished, whatever its outcome (e.g. to notify). Optional.
	FinalPipeline *Pipeline `json:"finalPipeline,omitempty"`
	// ReleaseGracePeriodDays is how many days Releases created from this
	// plan are kept; 0 or unset means 7.
	ReleaseGracePeriodDays int `json:"releaseGracePeriodDays,omitempty"`
}

// ReleasePlanStatus is written by Kiln.
// LabelAuthor is who a ReleasePlan or Release was created by; Kiln sets it
// from the authenticated user and a client cannot change it.
const LabelAuthor = "release.appstudio.openshift.io/author"

// LabelAutomated marks Releases Kiln created (auto-release).
const LabelAutomated = "release.appstudio.openshift.io/automated"

type ReleasePlanStatus struct {
	// Conditions describe the plan's state (e.g. whether an admission
	// matched).
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// ReleasePlanAdmission is the matched admission, as "namespace/name";
	// empty when none matches.
	ReleasePlanAdmission string `json:"releasePlanAdmission,omitempty"`
}

// AutoRelease reports whether passing Snapshots are released automatically:
// true unless the auto-release label is "false".
func (r *ReleasePlan) AutoRelease() bool {
	return r.Labels[LabelAutoRelease] != "false"
}

// Default fills in defaults, including the auto-release label.
func (r *ReleasePlan) Default() {
	if r.Spec.ReleaseGracePeriodDays == 0 {
		r.Spec.ReleaseGracePeriodDays = DefaultReleaseGracePeriodDays
	}
	if _, ok := r.Labels[LabelAutoRelease]; !ok {
		if r.Labels == nil {
			r.Labels = map[string]string{}
		}
		r.Labels[LabelAutoRelease] = "true"
	}
}

// Validate checks the spec.
func (r *ReleasePlan) Validate() field.ErrorList {
	p := field.NewPath("spec")
	errs := refName(p.Child("application"), r.Spec.Application, "Application")
	errs = append(errs, namespaceName(p.Child("target"), r.Spec.Target, "the managed namespace to release into")...)
	errs = append(errs, validatePipeline(p.Child("tenantPipeline"), r.Spec.TenantPipeline)...)
	errs = append(errs, validatePipeline(p.Child("finalPipeline"), r.Spec.FinalPipeline)...)
	errs = append(errs, validateNonNegative(p.Child("releaseGracePeriodDays"), r.Spec.ReleaseGracePeriodDays)...)
	if v, ok := r.Labels[LabelAutoRelease]; ok && v != "true" && v != "false" {
		errs = append(errs, field.NotSupported(field.NewPath("metadata", "labels").Key(LabelAutoRelease), v, []string{"true", "false"}))
	}
	return errs
}

func init() {
	register(&Kind{
		Group: Group, Version: Version, Kind: "ReleasePlan",
		Plural: "releaseplans", Singular: "releaseplan", ShortNames: []string{"rp"},
		Namespaced: true, HasStatus: true,
		New: func() Object { return &ReleasePlan{} },
		Columns: []Column{
			{Name: "Application", Type: "string", Value: func(o Object) string { return o.(*ReleasePlan).Spec.Application }},
			{Name: "Target", Type: "string", Value: func(o Object) string { return o.(*ReleasePlan).Spec.Target }},
			{Name: "Auto Release", Type: "string", Value: func(o Object) string {
				return strconv.FormatBool(o.(*ReleasePlan).AutoRelease())
			}},
			{Name: "Admission", Type: "string", Priority: 1, Value: func(o Object) string {
				return o.(*ReleasePlan).Status.ReleasePlanAdmission
			}},
		},
		Fields: func(o Object) map[string]string {
			r := o.(*ReleasePlan)
			return map[string]string{"spec.application": r.Spec.Application, "spec.target": r.Spec.Target}
		},
		Refs: func(o Object) []Ref {
			r := o.(*ReleasePlan)
			return []Ref{{Kind: "Application", Namespace: r.Namespace, Name: r.Spec.Application,
				Path: field.NewPath("spec", "application"), Owner: true}}
		},
	})
}
