package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Application groups the components that are built, tested and released
// together.
type Application struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              ApplicationSpec   `json:"spec,omitempty"`
	Status            ApplicationStatus `json:"status,omitzero"`
}

// ApplicationSpec is what the user asks for.
type ApplicationSpec struct {
	// DisplayName is a human-readable name (at most 256 characters);
	// defaults to metadata.name.
	DisplayName string `json:"displayName,omitempty"`
	// Description says what the application is, for humans.
	Description string `json:"description,omitempty"`
}

// ApplicationStatus is written by Kiln.
type ApplicationStatus struct {
	// ObservedGeneration is the metadata.generation last acted upon.
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Conditions describe the application's state.
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// Default fills in defaults.
func (a *Application) Default() {
	if a.Spec.DisplayName == "" {
		a.Spec.DisplayName = a.Name
	}
}

// Validate checks the spec.
func (a *Application) Validate() field.ErrorList {
	var errs field.ErrorList
	if len(a.Spec.DisplayName) > 256 {
		errs = append(errs, field.TooLong(field.NewPath("spec", "displayName"), "", 256))
	}
	return errs
}

func init() {
	register(&Kind{
		Group: Group, Version: Version, Kind: "Application",
		Plural: "applications", Singular: "application", ShortNames: []string{"app", "apps"},
		Namespaced: true, HasStatus: true,
		New: func() Object { return &Application{} },
		Columns: []Column{{Name: "Display Name", Type: "string", Value: func(o Object) string {
			return o.(*Application).Spec.DisplayName
		}}},
	})
}
