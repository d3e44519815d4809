package v1alpha1

import (
	"net/mail"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// User is a person who can sign in. Cluster-scoped; metadata.name is the
// user name that RoleBindings and Tokens refer to (a DNS-1123 subdomain,
// e.g. "alice").
type User struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              UserSpec `json:"spec,omitempty"`
}

// UserSpec is what an administrator asks for.
type UserSpec struct {
	// DisplayName is the person's name, for display.
	DisplayName string `json:"displayName,omitempty"`
	// Email address, e.g. alice@example.com. Optional.
	Email string `json:"email,omitempty"`
	// ClusterAdmin grants every permission in every namespace.
	ClusterAdmin bool `json:"clusterAdmin,omitempty"`
}

// Validate checks the spec.
func (u *User) Validate() field.ErrorList {
	p := field.NewPath("spec")
	var errs field.ErrorList
	if len(u.Spec.DisplayName) > 256 {
		errs = append(errs, field.TooLong(p.Child("displayName"), "", 256))
	}
	if e := u.Spec.Email; e != "" {
		if a, err := mail.ParseAddress(e); err != nil || a.Address != e {
			errs = append(errs, field.Invalid(p.Child("email"), e, "must be a bare email address, e.g. alice@example.com"))
		}
	}
	return errs
}

func init() {
	register(&Kind{
		Group: Group, Version: Version, Kind: "User",
		Plural: "users", Singular: "user",
		Namespaced: false,
		New:        func() Object { return &User{} },
		Columns: []Column{
			{Name: "Display Name", Type: "string", Value: func(o Object) string { return o.(*User).Spec.DisplayName }},
			{Name: "Email", Type: "string", Value: func(o Object) string { return o.(*User).Spec.Email }},
			{Name: "Cluster Admin", Type: "string", Value: func(o Object) string { return strconv.FormatBool(o.(*User).Spec.ClusterAdmin) }},
		},
		Fields: func(o Object) map[string]string { return map[string]string{"spec.email": o.(*User).Spec.Email} },
	})
}
