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
	// Candidates is the global candidate list: the latest good artifact of
	// each component. A build older than the candidate (a smaller build
	// number) never replaces it; pull-request builds never enter it.
	Candidates []Candidate `json:"candidates,omitempty"`
	// SnapshotSequence is the last LabelSequence given to a Snapshot of the
	// Application.
	SnapshotSequence int64 `json:"snapshotSequence,omitempty"`
	// ObservedGeneration is the metadata.generation last acted upon.
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Conditions describe the application's state.
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// Candidate is one component's latest good artifact.
type Candidate struct {
	// Component is the component's name.
	Component string `json:"component"`
	// ContainerImage is the artifact, pinned by digest.
	ContainerImage string `json:"containerImage"`
	// Build is the Build that produced it.
	Build string `json:"build"`
	// BuildNumber is that Build's number (status.buildNumber).
	BuildNumber int64 `json:"buildNumber"`
	// Source is the repository and commit it was built from.
	Source *SnapshotSource `json:"source,omitempty"`
}

// Candidate returns the component's candidate, nil when it has none.
func (a *Application) Candidate(component string) *Candidate {
	for i := range a.Status.Candidates {
		if a.Status.Candidates[i].Component == component {
			return &a.Status.Candidates[i]
		}
	}
	return nil
}

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
		Namespaced: true, HasStatus: true, ShortName: true,
		NameUse: "it becomes a label value (kiln.dev/application) that selects its builds",
		New:     func() Object { return &Application{} },
		Columns: []Column{{Name: "Display Name", Type: "string", Value: func(o Object) string {
			return o.(*Application).Spec.DisplayName
		}}},
	})
}
