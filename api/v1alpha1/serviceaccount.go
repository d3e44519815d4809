package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ServiceAccount is a non-human identity in a namespace, used by pipelines
// and automation. As a subject it is named
// "system:serviceaccount:<namespace>:<name>"; Tokens authenticate it.
type ServiceAccount struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              ServiceAccountSpec `json:"spec,omitempty"`
}

// ServiceAccountSpec is what the user asks for.
type ServiceAccountSpec struct {
	// Description says what the account is for.
	Description string `json:"description,omitempty"`
}

// Validate checks the spec.
func (s *ServiceAccount) Validate() field.ErrorList {
	if len(s.Spec.Description) > 1024 {
		return field.ErrorList{field.TooLong(field.NewPath("spec", "description"), "", 1024)}
	}
	return nil
}

func init() {
	register(&Kind{
		Group: Group, Version: Version, Kind: "ServiceAccount",
		Plural: "serviceaccounts", Singular: "serviceaccount", ShortNames: []string{"sa"},
		Namespaced: true,
		New:        func() Object { return &ServiceAccount{} },
		Columns: []Column{{Name: "Description", Type: "string", Value: func(o Object) string {
			return o.(*ServiceAccount).Spec.Description
		}}},
	})
}
