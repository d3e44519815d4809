package client

import (
	"encoding/json"
	"fmt"
	"time"
)

// Object is a decoded JSON object (a resource, a list item, a Status...)
// with accessors for the common fields. It marshals back to the same JSON.
type Object map[string]any

// DecodeObject parses a JSON object.
func DecodeObject(data []byte) (Object, error) {
	var o Object
	if err := json.Unmarshal(data, &o); err != nil {
		return nil, err
	}
	if o == nil {
		return nil, fmt.Errorf("expected a JSON object, got null")
	}
	return o, nil
}

// DeepCopy returns a copy sharing nothing with o.
func (o Object) DeepCopy() Object {
	if o == nil {
		return nil
	}
	return deepCopy(map[string]any(o)).(map[string]any)
}

func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[k] = deepCopy(x)
		}
		return m
	case Object:
		return deepCopy(map[string]any(v))
	case []any:
		s := make([]any, len(v))
		for i, x := range v {
			s[i] = deepCopy(x)
		}
		return s
	default:
		return v
	}
}

// APIVersion returns apiVersion.
func (o Object) APIVersion() string { return o.String("apiVersion") }

// Kind returns kind.
func (o Object) Kind() string { return o.String("kind") }

// Name returns metadata.name.
func (o Object) Name() string { return o.String("metadata", "name") }

// Namespace returns metadata.namespace.
func (o Object) Namespace() string { return o.String("metadata", "namespace") }

// ResourceVersion returns metadata.resourceVersion.
func (o Object) ResourceVersion() string { return o.String("metadata", "resourceVersion") }

// Labels returns metadata.labels (string values only).
func (o Object) Labels() map[string]string { return o.StringMap("metadata", "labels") }

// Annotations returns metadata.annotations (string values only).
func (o Object) Annotations() map[string]string { return o.StringMap("metadata", "annotations") }

// CreationTimestamp returns metadata.creationTimestamp; zero when unset.
func (o Object) CreationTimestamp() time.Time {
	t, _ := time.Parse(time.RFC3339, o.String("metadata", "creationTimestamp"))
	return t
}

// SetAPIVersion sets apiVersion.
func (o Object) SetAPIVersion(v string) { o["apiVersion"] = v }

// SetNamespace sets metadata.namespace.
func (o Object) SetNamespace(ns string) { o.metadata()["namespace"] = ns }

// SetName sets metadata.name.
func (o Object) SetName(name string) { o.metadata()["name"] = name }

// SetResourceVersion sets metadata.resourceVersion.
func (o Object) SetResourceVersion(rv string) { o.metadata()["resourceVersion"] = rv }

func (o Object) metadata() map[string]any {
	m, ok := o["metadata"].(map[string]any)
	if !ok {
		m = map[string]any{}
		o["metadata"] = m
	}
	return m
}

// Get returns the value at the field path, or nil.
func (o Object) Get(path ...string) any {
	var cur any = map[string]any(o)
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[p]
	}
	return cur
}

// String returns the string at the field path, or "".
func (o Object) String(path ...string) string {
	s, _ := o.Get(path...).(string)
	return s
}

// Map returns the object at the field path, or nil.
func (o Object) Map(path ...string) map[string]any {
	m, _ := o.Get(path...).(map[string]any)
	return m
}

// Slice returns the array at the field path, or nil.
func (o Object) Slice(path ...string) []any {
	s, _ := o.Get(path...).([]any)
	return s
}

// Int returns the number at the field path, or 0.
func (o Object) Int(path ...string) int64 {
	switch n := o.Get(path...).(type) {
	case float64:
		return int64(n)
	case json.Number:
		i, _ := n.Int64()
		return i
	case int64:
		return n
	case int:
		return int64(n)
	}
	return 0
}

// StringMap returns the string-valued entries of the object at the path.
func (o Object) StringMap(path ...string) map[string]string {
	m := o.Map(path...)
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	return out
}

// List is every item of a collection, with the collection's metadata.
type List struct {
	APIVersion string
	Kind       string
	// ResourceVersion is the version the list was read at; a watch started
	// from it sees every later change.
	ResourceVersion string
	Items           []Object
}

type listPage struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		ResourceVersion string `json:"resourceVersion"`
		Continue        string `json:"continue"`
	} `json:"metadata"`
	Items []Object `json:"items"`
}
