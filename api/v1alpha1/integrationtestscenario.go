package v1alpha1

import (
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// LabelTestOptional marks an IntegrationTestScenario as non-blocking when
// set to "true": its failure does not stop a Snapshot from being promoted or
// released (Konflux's label).
const LabelTestOptional = "test.appstudio.openshift.io/optional"

// IntegrationTestScenario is a test pipeline run against every Snapshot of an
// Application. Label it test.appstudio.openshift.io/optional: "true" to make
// it non-blocking.
type IntegrationTestScenario struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              IntegrationTestScenarioSpec   `json:"spec,omitempty"`
	Status            IntegrationTestScenarioStatus `json:"status,omitzero"`
}

// IntegrationTestScenarioSpec is what the user asks for.
type IntegrationTestScenarioSpec struct {
	// Application is the name of the Application (same namespace) whose
	// Snapshots are tested. Required. Deleting the Application deletes the
	// scenario.
	Application string `json:"application"`
	// ResolverRef says where the test pipeline comes from. Required.
	ResolverRef ResolverRef `json:"resolverRef"`
	// Params are passed to the test pipeline. Names are unique.
	Params []Param `json:"params,omitempty"`
	// Contexts limit when the scenario runs, e.g. "application" (every
	// Snapshot), "component_<name>", "push", "pull_request". Empty: always.
	Contexts []TestContext `json:"contexts,omitempty"`
}

// TestContext is a situation in which a scenario runs.
type TestContext struct {
	// Name of the context. Required.
	Name string `json:"name"`
	// Description for humans.
	Description string `json:"description,omitempty"`
}

// IntegrationTestScenarioStatus is written by Kiln.
type IntegrationTestScenarioStatus struct {
	// Conditions describe the scenario's state (e.g. whether its pipeline
	// resolves).
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// IsOptional reports whether the scenario is non-blocking.
func (s *IntegrationTestScenario) IsOptional() bool {
	return s.Labels[LabelTestOptional] == "true"
}

// Validate checks the spec.
func (s *IntegrationTestScenario) Validate() field.ErrorList {
	p := field.NewPath("spec")
	errs := refName(p.Child("application"), s.Spec.Application, "Application")
	errs = append(errs, validateResolverRef(p.Child("resolverRef"), s.Spec.ResolverRef)...)
	errs = append(errs, validateParams(p.Child("params"), s.Spec.Params)...)
	seen := map[string]bool{}
	for i, c := range s.Spec.Contexts {
		np := p.Child("contexts").Index(i).Child("name")
		switch {
		case c.Name == "":
			errs = append(errs, field.Required(np, ""))
		case seen[c.Name]:
			errs = append(errs, field.Duplicate(np, c.Name))
		}
		seen[c.Name] = true
	}
	if v, ok := s.Labels[LabelTestOptional]; ok && v != "true" && v != "false" {
		errs = append(errs, field.NotSupported(field.NewPath("metadata", "labels").Key(LabelTestOptional), v, []string{"true", "false"}))
	}
	return errs
}

func init() {
	register(&Kind{
		Group: Group, Version: Version, Kind: "IntegrationTestScenario",
		Plural: "integrationtestscenarios", Singular: "integrationtestscenario", ShortNames: []string{"its"},
		Namespaced: true, HasStatus: true,
		New: func() Object { return &IntegrationTestScenario{} },
		Columns: []Column{
			{Name: "Application", Type: "string", Value: func(o Object) string { return o.(*IntegrationTestScenario).Spec.Application }},
			{Name: "Resolver", Type: "string", Value: func(o Object) string { return o.(*IntegrationTestScenario).Spec.ResolverRef.Resolver }},
			{Name: "Optional", Type: "string", Value: func(o Object) string {
				return strconv.FormatBool(o.(*IntegrationTestScenario).IsOptional())
			}},
		},
		Fields: func(o Object) map[string]string {
			return map[string]string{"spec.application": o.(*IntegrationTestScenario).Spec.Application}
		},
		Refs: func(o Object) []Ref {
			s := o.(*IntegrationTestScenario)
			return []Ref{{Kind: "Application", Namespace: s.Namespace, Name: s.Spec.Application,
				Path: field.NewPath("spec", "application"), Owner: true}}
		},
	})
}
