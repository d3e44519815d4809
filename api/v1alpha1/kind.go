// Package v1alpha1 holds Kiln's resource kinds: their Go types, defaults,
// validation, table columns and the registry the API server serves them from.
//
// Every kind is kube-shaped (apiVersion, kind, metadata, spec, status). Kinds
// in the core group ("" / v1: Namespace, Secret) keep Kubernetes' shape so
// kubectl treats them natively; all others live in kiln.dev/v1alpha1.
package v1alpha1

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

const (
	// Group is the API group of Kiln's own kinds.
	Group = "kiln.dev"
	// Version is the API version of Kiln's own kinds.
	Version = "v1alpha1"
	// APIVersion is Group/Version.
	APIVersion = Group + "/" + Version
)

// Object is implemented by every kind through its embedded TypeMeta and
// ObjectMeta.
type Object interface {
	metav1.Object
	GetObjectKind() schema.ObjectKind
}

// Defaulter is implemented by kinds that fill in defaults before validation.
type Defaulter interface{ Default() }

// Validator is implemented by kinds with create-time validation beyond what
// strict decoding checks (unknown fields and wrong types are rejected before).
type Validator interface{ Validate() field.ErrorList }

// CreateValidator is implemented by kinds with rules for new objects only
// (objects already stored are not judged again by them).
type CreateValidator interface{ ValidateCreate() field.ErrorList }

// UpdateValidator is implemented by kinds with rules about what may change.
type UpdateValidator interface {
	ValidateUpdate(old Object) field.ErrorList
}

// Ref is a reference from one object to another in the same namespace (or a
// cluster-scoped object when Namespace is empty and the target kind is
// cluster-scoped). The API server rejects writes whose refs do not resolve.
type Ref struct {
	Kind      string
	Namespace string
	Name      string
	// Path is the field holding the reference, for error messages.
	Path *field.Path
	// Owner makes the target the object's owner: deleting the target deletes
	// this object (cascade).
	Owner bool
}

// Column is one column of table output (kiln get, kubectl get).
type Column struct {
	Name string
	// Type is an OpenAPI type: string, integer, date.
	Type string
	// Priority 0 columns are always shown; 1 only with -o wide.
	Priority int
	Value    func(Object) string
}

// Kind describes one resource kind.
type Kind struct {
	Group      string
	Version    string
	Kind       string
	Plural     string
	Singular   string
	ShortNames []string
	Namespaced bool
	// New returns a zero value of the kind's Go type.
	New func() Object
	// HasStatus means status is written only through the status subresource.
	HasStatus bool
	// ImmutableSpec rejects any change to the spec after creation.
	ImmutableSpec bool
	// Internal kinds are not served by the generic API (e.g. Token).
	Internal bool
	// ShortName limits new objects' names to 63 characters (a DNS-1123
	// subdomain that fits a label value): their names become label values
	// and parts of image repository paths. NameUse says where, for the
	// error message.
	ShortName bool
	NameUse   string
	// Columns for table output, after NAME (and before AGE).
	Columns []Column
	// Fields returns the values of fields selectable with field selectors.
	Fields func(Object) map[string]string
	// Refs returns the object's references to other objects.
	Refs func(Object) []Ref
}

// APIVersion returns group/version, or just version for the core group.
func (k *Kind) APIVersion() string {
	if k.Group == "" {
		return k.Version
	}
	return k.Group + "/" + k.Version
}

// GVK returns the kind's group, version and kind.
func (k *Kind) GVK() schema.GroupVersionKind {
	return schema.GroupVersionKind{Group: k.Group, Version: k.Version, Kind: k.Kind}
}

var (
	kinds  []*Kind
	byName = map[string]*Kind{}
	byType = map[reflect.Type]*Kind{}
)

// register adds a kind; called from each kind's file in init. It panics when
// a name, plural, singular or short name is already taken: Lookup must be
// unambiguous.
func register(k *Kind) {
	names := append([]string{k.Kind, k.Plural, k.Singular}, k.ShortNames...)
	for _, n := range names {
		if other, ok := byName[strings.ToLower(n)]; ok && other != k {
			panic(fmt.Sprintf("v1alpha1: name %q of kind %s is already used by %s", n, k.Kind, other.Kind))
		}
	}
	kinds = append(kinds, k)
	sort.Slice(kinds, func(i, j int) bool { return kinds[i].Kind < kinds[j].Kind })
	for _, n := range names {
		byName[strings.ToLower(n)] = k
	}
	byType[reflect.TypeOf(k.New())] = k
}

// Kinds returns every registered kind, sorted by name.
func Kinds() []*Kind { return append([]*Kind(nil), kinds...) }

// Lookup finds a kind by kind name, plural, singular or short name,
// case-insensitively. A "plural.group" form (e.g. components.kiln.dev) is
// accepted too.
func Lookup(name string) (*Kind, bool) {
	n := strings.ToLower(name)
	if k, ok := byName[n]; ok {
		return k, true
	}
	if i := strings.IndexByte(n, '.'); i > 0 {
		if k, ok := byName[n[:i]]; ok && k.Group == n[i+1:] {
			return k, true
		}
	}
	return nil, false
}

// aliasGroups maps API groups of other systems to Kiln's, so their YAML applies
// unchanged (Konflux's appstudio group, for instance).
var aliasGroups = map[string]string{
	"appstudio.redhat.com/v1alpha1": APIVersion,
}

// aliasKinds maps kinds of other systems, keyed by "apiVersion kind", to the
// name of the Kiln kind with the same shape.
var aliasKinds = map[string]string{
	"appstudio.redhat.com/v1alpha1 EnterpriseContractPolicy": "Policy",
}

// ForAPIVersionKind finds the kind for an apiVersion and kind as written in a
// document; apiVersions of systems Kiln is compatible with are accepted, and
// so are their kind names where they differ (Konflux's
// EnterpriseContractPolicy is Kiln's Policy).
func ForAPIVersionKind(apiVersion, kind string) (*Kind, bool) {
	if a, ok := aliasKinds[apiVersion+" "+kind]; ok {
		kind = a
	}
	if a, ok := aliasGroups[apiVersion]; ok {
		apiVersion = a
	}
	for _, k := range kinds {
		if k.Kind == kind && k.APIVersion() == apiVersion {
			return k, true
		}
	}
	return nil, false
}

// KindOf returns the kind of obj, found by its Go type (its TypeMeta may be
// empty or carry an alias).
func KindOf(obj Object) (*Kind, bool) {
	k, ok := byType[reflect.TypeOf(obj)]
	return k, ok
}

// SetTypeMeta writes the kind's canonical apiVersion and kind into obj.
func (k *Kind) SetTypeMeta(obj Object) {
	obj.GetObjectKind().SetGroupVersionKind(k.GVK())
}

// MustLookup is Lookup for kinds the program registers itself; it panics
// on an unknown name (a programming error, found at start-up).
func MustLookup(name string) *Kind {
	k, ok := Lookup(name)
	if !ok {
		panic("kind not registered: " + name)
	}
	return k
}
