package v1alpha1

import (
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Roles. The server's authorizer (internal/auth) defines what each allows;
// in short:
const (
	// RoleViewer reads everything in the namespace except Secrets.
	RoleViewer = "viewer"
	// RoleMaintainer also writes a tenant's everyday objects (applications,
	// components, tests, plans, snapshots, releases) and Secrets.
	RoleMaintainer = "maintainer"
	// RoleAdmin also writes admissions, policies, role bindings, service
	// accounts, and the namespace itself.
	RoleAdmin = "admin"
	// RoleReleaser, in a managed namespace, owns the release gate
	// (ReleasePlanAdmissions and Policies) without access to Secrets. The
	// server rejects it in tenant namespaces.
	RoleReleaser = "releaser"
)

// Roles lists the valid values of RoleBinding spec.role.
var Roles = []string{RoleViewer, RoleMaintainer, RoleAdmin, RoleReleaser}

// Subject kinds.
const (
	SubjectUser           = "User"
	SubjectServiceAccount = "ServiceAccount"
)

// RoleBinding grants a role in its namespace to users and service accounts.
type RoleBinding struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              RoleBindingSpec `json:"spec,omitempty"`
}

// RoleBindingSpec is what the user asks for.
type RoleBindingSpec struct {
	// Role is one of viewer, maintainer, admin, releaser. Required.
	Role string `json:"role"`
	// Subjects receive the role. Required, at least one. They need not exist
	// yet.
	Subjects []Subject `json:"subjects"`
}

// Subject is a user or a service account.
type Subject struct {
	// Kind is User or ServiceAccount. Required.
	Kind string `json:"kind"`
	// Name of the User or ServiceAccount. Required.
	Name string `json:"name"`
	// Namespace of a ServiceAccount; defaults to the binding's namespace.
	// Must be empty for users.
	Namespace string `json:"namespace,omitempty"`
}

// String is the subject as authentication names it: "alice" or
// "system:serviceaccount:<namespace>:<name>".
func (s Subject) String() string {
	if s.Kind == SubjectServiceAccount {
		return ServiceAccountSubject(s.Namespace, s.Name)
	}
	return s.Name
}

// Default fills in ServiceAccount namespaces.
func (r *RoleBinding) Default() {
	for i := range r.Spec.Subjects {
		s := &r.Spec.Subjects[i]
		if s.Kind == SubjectServiceAccount && s.Namespace == "" {
			s.Namespace = r.Namespace
		}
	}
}

// Validate checks the spec.
func (r *RoleBinding) Validate() field.ErrorList {
	p := field.NewPath("spec")
	errs := oneOf(p.Child("role"), r.Spec.Role, Roles...)
	if len(r.Spec.Subjects) == 0 {
		return append(errs, field.Required(p.Child("subjects"), "at least one User or ServiceAccount"))
	}
	for i, s := range r.Spec.Subjects {
		errs = append(errs, validateSubject(p.Child("subjects").Index(i), s)...)
	}
	return errs
}

func validateSubject(p *field.Path, s Subject) field.ErrorList {
	errs := oneOf(p.Child("kind"), s.Kind, SubjectUser, SubjectServiceAccount)
	errs = append(errs, refName(p.Child("name"), s.Name, "User or ServiceAccount")...)
	switch {
	case s.Kind == SubjectUser && s.Namespace != "":
		errs = append(errs, field.Forbidden(p.Child("namespace"), "users are cluster-scoped: remove namespace"))
	case s.Namespace != "":
		errs = append(errs, dnsLabel(p.Child("namespace"), s.Namespace)...)
	}
	return errs
}

func init() {
	register(&Kind{
		Group: Group, Version: Version, Kind: "RoleBinding",
		Plural: "rolebindings", Singular: "rolebinding", ShortNames: []string{"rb"},
		Namespaced: true,
		New:        func() Object { return &RoleBinding{} },
		Columns: []Column{
			{Name: "Role", Type: "string", Value: func(o Object) string { return o.(*RoleBinding).Spec.Role }},
			{Name: "Subjects", Type: "string", Value: func(o Object) string {
				var names []string
				for _, s := range o.(*RoleBinding).Spec.Subjects {
					names = append(names, s.String())
				}
				return strings.Join(names, ",")
			}},
		},
		Fields: func(o Object) map[string]string { return map[string]string{"spec.role": o.(*RoleBinding).Spec.Role} },
	})
}
