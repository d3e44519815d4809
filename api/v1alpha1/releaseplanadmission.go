package v1alpha1

import (
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ReleasePlanAdmission lives in a managed namespace and accepts releases of
// some Applications of one tenant namespace, saying which policy they must
// pass and which pipeline releases them.
type ReleasePlanAdmission struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              ReleasePlanAdmissionSpec   `json:"spec,omitempty"`
	Status            ReleasePlanAdmissionStatus `json:"status,omitzero"`
}

// ReleasePlanAdmissionSpec is what the release team asks for.
type ReleasePlanAdmissionSpec struct {
	// Applications are the names of the Applications (in origin) accepted.
	// Required, at least one.
	Applications []string `json:"applications"`
	// Origin is the tenant namespace releases come from. Required.
	Origin string `json:"origin"`
	// Pipeline is the managed pipeline run for each release, in this
	// namespace. Optional, as in Konflux: without one a release is checked
	// against the policy and recorded, and nothing else runs.
	Pipeline *Pipeline `json:"pipeline,omitempty"`
	// Policy is the name of the Policy (same namespace) every Snapshot must
	// pass before it is released. Required.
	Policy string `json:"policy"`
	// Data is free-form JSON (any object) passed to the managed pipeline.
	Data map[string]any `json:"data,omitempty"`
	// Environment names the environment released to, for display and for
	// pipelines. Optional; a DNS-1123 label.
	Environment string `json:"environment,omitempty"`
}

// ReleasePlanAdmissionStatus is written by Kiln.
type ReleasePlanAdmissionStatus struct {
	// Conditions describe the admission's state.
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// Validate checks the spec.
func (r *ReleasePlanAdmission) Validate() field.ErrorList {
	p := field.NewPath("spec")
	errs := validateApplicationList(p.Child("applications"), r.Spec.Applications)
	errs = append(errs, namespaceName(p.Child("origin"), r.Spec.Origin, "the tenant namespace releases come from")...)
	errs = append(errs, validatePipeline(p.Child("pipeline"), r.Spec.Pipeline)...)
	errs = append(errs, refName(p.Child("policy"), r.Spec.Policy, "Policy")...)
	if r.Spec.Environment != "" {
		errs = append(errs, dnsLabel(p.Child("environment"), r.Spec.Environment)...)
	}
	return errs
}

func validateApplicationList(p *field.Path, apps []string) field.ErrorList {
	if len(apps) == 0 {
		return field.ErrorList{field.Required(p, "at least one Application name")}
	}
	var errs field.ErrorList
	seen := map[string]bool{}
	for i, a := range apps {
		errs = append(errs, refName(p.Index(i), a, "Application")...)
		if seen[a] {
			errs = append(errs, field.Duplicate(p.Index(i), a))
		}
		seen[a] = true
	}
	return errs
}

// Admits reports whether the admission accepts releases of application
// from namespace origin.
func (r *ReleasePlanAdmission) Admits(origin, application string) bool {
	if r.Spec.Origin != origin {
		return false
	}
	for _, a := range r.Spec.Applications {
		if a == application {
			return true
		}
	}
	return false
}

func init() {
	register(&Kind{
		Group: Group, Version: Version, Kind: "ReleasePlanAdmission",
		Plural: "releaseplanadmissions", Singular: "releaseplanadmission", ShortNames: []string{"rpa"},
		Namespaced: true, HasStatus: true,
		New: func() Object { return &ReleasePlanAdmission{} },
		Columns: []Column{
			{Name: "Origin", Type: "string", Value: func(o Object) string { return o.(*ReleasePlanAdmission).Spec.Origin }},
			{Name: "Applications", Type: "string", Value: func(o Object) string {
				return strings.Join(o.(*ReleasePlanAdmission).Spec.Applications, ",")
			}},
			{Name: "Policy", Type: "string", Value: func(o Object) string { return o.(*ReleasePlanAdmission).Spec.Policy }},
		},
		Fields: func(o Object) map[string]string {
			return map[string]string{"spec.origin": o.(*ReleasePlanAdmission).Spec.Origin}
		},
		Refs: func(o Object) []Ref {
			r := o.(*ReleasePlanAdmission)
			return []Ref{{Kind: "Policy", Namespace: r.Namespace, Name: r.Spec.Policy,
				Path: field.NewPath("spec", "policy")}}
		},
	})
}
