package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Namespace types.
const (
	// NamespaceTenant is a team's namespace: applications, components,
	// builds, tests and release plans live here.
	NamespaceTenant = "tenant"
	// NamespaceManaged is a release team's namespace: release plan
	// admissions, policies and the secrets release pipelines use live here.
	NamespaceManaged = "managed"
)

// Namespace phases.
const (
	NamespaceActive      = "Active"
	NamespaceTerminating = "Terminating"
)

// Namespace is a cluster-scoped container for namespaced objects and the unit
// of access control. It keeps the core group (v1) so kubectl treats it
// natively. Its name must be a DNS-1123 label.
type Namespace struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              NamespaceSpec   `json:"spec,omitempty"`
	Status            NamespaceStatus `json:"status,omitzero"`
}

// NamespaceSpec is what the user asks for.
type NamespaceSpec struct {
	// Type is "tenant" (a team's workspace; the default) or "managed" (a
	// release team's namespace that ReleasePlanAdmissions live in).
	Type string `json:"type,omitempty"`
	// Finalizers must be empty before the namespace is removed from storage
	// (Kubernetes' spec.finalizers). Each is a qualified name.
	Finalizers []string `json:"finalizers,omitempty"`
}

// NamespaceStatus is written by Kiln.
type NamespaceStatus struct {
	// Phase is Active, or Terminating while its objects are being deleted.
	Phase string `json:"phase,omitempty"`
}

// Default fills in defaults.
func (n *Namespace) Default() {
	if n.Spec.Type == "" {
		n.Spec.Type = NamespaceTenant
	}
}

// Validate checks the spec.
func (n *Namespace) Validate() field.ErrorList {
	p := field.NewPath("spec")
	errs := oneOf(p.Child("type"), n.Spec.Type, NamespaceTenant, NamespaceManaged)
	for i, f := range n.Spec.Finalizers {
		errs = append(errs, messages(p.Child("finalizers").Index(i), f, validation.IsQualifiedName(f))...)
	}
	if ph := n.Status.Phase; ph != "" {
		errs = append(errs, oneOf(field.NewPath("status", "phase"), ph, NamespaceActive, NamespaceTerminating)...)
	}
	return errs
}

// IsManaged reports whether the namespace is a managed (release) namespace.
func (n *Namespace) IsManaged() bool { return n.Spec.Type == NamespaceManaged }

func init() {
	register(&Kind{
		Group: "", Version: "v1", Kind: "Namespace",
		Plural: "namespaces", Singular: "namespace", ShortNames: []string{"ns"},
		Namespaced: false, HasStatus: true,
		New: func() Object { return &Namespace{} },
		Columns: []Column{
			{Name: "Type", Type: "string", Value: func(o Object) string { return o.(*Namespace).Spec.Type }},
			{Name: "Status", Type: "string", Value: func(o Object) string { return o.(*Namespace).Status.Phase }},
		},
		Fields: func(o Object) map[string]string {
			n := o.(*Namespace)
			return map[string]string{"spec.type": n.Spec.Type, "status.phase": n.Status.Phase}
		},
	})
}
