package v1alpha1

import (
	"bytes"
	"sort"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// MaxSecretSize is the largest total size of a Secret's values (data and
// stringData together), as in Kubernetes.
const MaxSecretSize = 1 << 20

// Secret types with required keys, as in Kubernetes.
const (
	SecretTypeOpaque           = "Opaque"
	SecretTypeBasicAuth        = "kubernetes.io/basic-auth"
	SecretTypeSSHAuth          = "kubernetes.io/ssh-auth"
	SecretTypeDockerConfigJSON = "kubernetes.io/dockerconfigjson"
	SecretTypeTLS              = "kubernetes.io/tls"
)

// secretRequiredKeys lists, per well-known type, the keys that must be set;
// for basic-auth at least one of them.
var secretRequiredKeys = map[string][]string{
	SecretTypeSSHAuth:          {"ssh-privatekey"},
	SecretTypeDockerConfigJSON: {".dockerconfigjson"},
	SecretTypeTLS:              {"tls.crt", "tls.key"},
}

// Secret holds credentials (registry logins, git tokens, signing keys) for
// pipelines. It has Kubernetes' shape in the core group (v1). The server
// encrypts values at rest and never returns them.
type Secret struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	// Immutable, when true, forbids changes to data, stringData and type;
	// it cannot be unset. Optional.
	Immutable *bool `json:"immutable,omitempty"`
	// Data maps keys to values, base64-encoded in JSON and YAML. Keys
	// consist of alphanumerics, '-', '_' or '.'.
	Data map[string][]byte `json:"data,omitempty"`
	// StringData maps keys to plain-text values; a write-only convenience
	// merged into data by the server (it wins on conflict).
	StringData map[string]string `json:"stringData,omitempty"`
	// Type is Opaque (the default), or a Kubernetes type with required keys:
	// kubernetes.io/basic-auth (username and/or password),
	// kubernetes.io/ssh-auth (ssh-privatekey),
	// kubernetes.io/dockerconfigjson (.dockerconfigjson),
	// kubernetes.io/tls (tls.crt, tls.key). Immutable.
	Type string `json:"type,omitempty"`
}

// Default fills in defaults.
func (s *Secret) Default() {
	if s.Type == "" {
		s.Type = SecretTypeOpaque
	}
}

// Normalize merges stringData into data (stringData wins) and clears it.
func (s *Secret) Normalize() {
	if len(s.StringData) == 0 {
		s.StringData = nil
		return
	}
	if s.Data == nil {
		s.Data = map[string][]byte{}
	}
	for k, v := range s.StringData {
		s.Data[k] = []byte(v)
	}
	s.StringData = nil
}

// Validate checks keys, size and the keys the type requires.
func (s *Secret) Validate() field.ErrorList {
	errs := s.validateKeys()
	size := 0
	for _, v := range s.Data {
		size += len(v)
	}
	for _, v := range s.StringData {
		size += len(v)
	}
	if size > MaxSecretSize {
		errs = append(errs, field.TooLong(field.NewPath("data"), "", MaxSecretSize))
	}
	return append(errs, s.validateType()...)
}

func (s *Secret) validateKeys() field.ErrorList {
	var errs field.ErrorList
	for _, k := range sortedKeys(s.Data) {
		errs = append(errs, messages(field.NewPath("data").Key(k), k, validation.IsConfigMapKey(k))...)
	}
	for _, k := range sortedKeys(s.StringData) {
		errs = append(errs, messages(field.NewPath("stringData").Key(k), k, validation.IsConfigMapKey(k))...)
	}
	return errs
}

func (s *Secret) validateType() field.ErrorList {
	p := field.NewPath("type")
	if s.Type == "" {
		return field.ErrorList{field.Required(p, "")}
	}
	if s.Type == SecretTypeBasicAuth && !s.has("username") && !s.has("password") {
		return field.ErrorList{field.Required(field.NewPath("data"), `kubernetes.io/basic-auth needs "username" or "password"`)}
	}
	var errs field.ErrorList
	for _, k := range secretRequiredKeys[s.Type] {
		if !s.has(k) {
			errs = append(errs, field.Required(field.NewPath("data").Key(k), s.Type+" needs key "+strconv.Quote(k)))
		}
	}
	return errs
}

func (s *Secret) has(key string) bool {
	_, inData := s.Data[key]
	_, inString := s.StringData[key]
	return inData || inString
}

// ValidateUpdate enforces immutability: type never changes, and an
// immutable Secret keeps its data and stays immutable.
func (s *Secret) ValidateUpdate(old Object) field.ErrorList {
	o, ok := old.(*Secret)
	if !ok {
		return nil
	}
	var errs field.ErrorList
	if s.Type != o.Type {
		errs = append(errs, field.Invalid(field.NewPath("type"), s.Type, "type is immutable: delete and recreate the Secret"))
	}
	if o.Immutable == nil || !*o.Immutable {
		return errs
	}
	if s.Immutable == nil || !*s.Immutable {
		errs = append(errs, field.Forbidden(field.NewPath("immutable"), "an immutable Secret cannot be made mutable"))
	}
	if len(s.StringData) > 0 || !sameData(s.Data, o.Data) {
		errs = append(errs, field.Forbidden(field.NewPath("data"), "the Secret is immutable: delete and recreate it"))
	}
	return errs
}

func sameData(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || !bytes.Equal(v, w) {
			return false
		}
	}
	return true
}

// sortedKeys returns a map's keys in order, for deterministic errors.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func init() {
	register(&Kind{
		Group: "", Version: "v1", Kind: "Secret",
		Plural: "secrets", Singular: "secret",
		Namespaced: true,
		New:        func() Object { return &Secret{} },
		Columns: []Column{
			{Name: "Type", Type: "string", Value: func(o Object) string { return o.(*Secret).Type }},
			{Name: "Data", Type: "integer", Value: func(o Object) string {
				s := o.(*Secret)
				return strconv.Itoa(len(s.Data) + len(s.StringData))
			}},
		},
		Fields: func(o Object) map[string]string { return map[string]string{"type": o.(*Secret).Type} },
	})
}
