package v1alpha1

import (
	"regexp"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

const serviceAccountPrefix = "system:serviceaccount:"

var sha256HexRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Token is an API credential for a User or a ServiceAccount. Cluster-scoped
// and internal: it is served only through a dedicated endpoint, and the hash
// never leaves the server. The secret part is shown once, at creation.
type Token struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              TokenSpec   `json:"spec,omitempty"`
	Status            TokenStatus `json:"status,omitzero"`
}

// TokenSpec is set when the token is issued.
type TokenSpec struct {
	// Subject is who the token authenticates: a user name ("alice") or
	// "system:serviceaccount:<namespace>:<name>". Required.
	Subject string `json:"subject"`
	// Description says what the token is for.
	Description string `json:"description,omitempty"`
	// Hash is the lower-case hex SHA-256 of the token's secret part.
	// Required.
	Hash string `json:"hash,omitempty"`
	// ExpiresAt is when the token stops working; nil means never.
	ExpiresAt *metav1.Time `json:"expiresAt,omitempty"`
	// Scope narrows what a token of a remote worker or of one build may
	// do; nil for users and service accounts.
	Scope *TokenScope `json:"scope,omitempty"`
}

// TokenScope is what a worker's or a build's token may do.
type TokenScope struct {
	// Platforms are the platforms (os/arch) a worker token's holder may
	// lease builds for ("system:worker:<name>" subjects).
	Platforms []string `json:"platforms,omitempty"`
	// Namespace is the namespace of a push token's build
	// ("system:build:<namespace>:<build>" subjects): the token may pull in
	// it, and push to Repository and the repositories under it only. Kiln
	// deletes the token when the lease ends.
	Namespace string `json:"namespace,omitempty"`
	// Build is the push token's build.
	Build string `json:"build,omitempty"`
	// Generation is the build lease generation the push token belongs to.
	Generation int64 `json:"generation,omitempty"`
	// Repository is the registry repository (<namespace>/<component>,
	// without the registry host) the build may push to.
	Repository string `json:"repository,omitempty"`
}

// Subject prefixes of remote workers and of build push tokens.
const (
	WorkerSubjectPrefix = "system:worker:"
	BuildSubjectPrefix  = "system:build:"
)

// WorkerSubject names a remote worker as a token subject.
func WorkerSubject(name string) string { return WorkerSubjectPrefix + name }

// BuildSubject names one build's push token subject.
func BuildSubject(namespace, build string) string {
	return BuildSubjectPrefix + namespace + ":" + build
}

// TokenStatus is written by Kiln.
type TokenStatus struct {
	// LastUsed is when the token last authenticated a request (updated
	// coarsely).
	LastUsed *metav1.Time `json:"lastUsed,omitempty"`
}

// ServiceAccountSubject names a ServiceAccount as a subject.
func ServiceAccountSubject(namespace, name string) string {
	return serviceAccountPrefix + namespace + ":" + name
}

// ParseSubject splits a subject: for "system:serviceaccount:ns:name" it
// returns ns, name and true; for a user name, "", the name and false.
func ParseSubject(subject string) (namespace, name string, serviceAccount bool) {
	rest, ok := strings.CutPrefix(subject, serviceAccountPrefix)
	if !ok {
		return "", subject, false
	}
	namespace, name, _ = strings.Cut(rest, ":")
	return namespace, name, true
}

// Expired reports whether the token has expired at now.
func (t *Token) Expired(now time.Time) bool {
	return t.Spec.ExpiresAt != nil && !now.Before(t.Spec.ExpiresAt.Time)
}

// Validate checks the spec.
func (t *Token) Validate() field.ErrorList {
	p := field.NewPath("spec")
	errs := validateSubjectName(p.Child("subject"), t.Spec.Subject)
	if !sha256HexRE.MatchString(t.Spec.Hash) {
		errs = append(errs, field.Invalid(p.Child("hash"), "<hash>", "must be 64 lower-case hex digits (SHA-256)"))
	}
	return errs
}

func validateSubjectName(p *field.Path, subject string) field.ErrorList {
	if subject == "" {
		return field.ErrorList{field.Required(p, `a user name or "system:serviceaccount:<namespace>:<name>"`)}
	}
	if name, ok := strings.CutPrefix(subject, WorkerSubjectPrefix); ok {
		return dnsSubdomain(p, name)
	}
	if rest, ok := strings.CutPrefix(subject, BuildSubjectPrefix); ok {
		ns, name, _ := strings.Cut(rest, ":")
		if dnsLabel(p, ns) != nil || dnsSubdomain(p, name) != nil {
			return field.ErrorList{field.Invalid(p, subject, `must be "system:build:<namespace>:<build>"`)}
		}
		return nil
	}
	ns, name, sa := ParseSubject(subject)
	if !sa {
		return dnsSubdomain(p, name)
	}
	if dnsLabel(p, ns) != nil || dnsSubdomain(p, name) != nil {
		return field.ErrorList{field.Invalid(p, subject, `must be "system:serviceaccount:<namespace>:<name>"`)}
	}
	return nil
}

func init() {
	register(&Kind{
		Group: Group, Version: Version, Kind: "Token",
		Plural: "tokens", Singular: "token",
		Namespaced: false, HasStatus: true, Internal: true,
		New: func() Object { return &Token{} },
		Columns: []Column{
			{Name: "Subject", Type: "string", Value: func(o Object) string { return o.(*Token).Spec.Subject }},
			{Name: "Expires", Type: "date", Value: func(o Object) string { return timeString(o.(*Token).Spec.ExpiresAt) }},
			{Name: "Last Used", Type: "date", Value: func(o Object) string { return timeString(o.(*Token).Status.LastUsed) }},
		},
		Fields: func(o Object) map[string]string { return map[string]string{"spec.subject": o.(*Token).Spec.Subject} },
	})
}

// timeString formats an optional time for table output (RFC 3339, UTC).
func timeString(t *metav1.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
