package apiserver

import (
	"bytes"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// protobufMagic prefixes Kubernetes protobuf bodies.
var protobufMagic = []byte{0x6b, 0x38, 0x73, 0x00}

// protobufToJSON converts a Kubernetes protobuf body to JSON. kubectl sends
// protobuf for the core kinds it knows (`kubectl create namespace`); Kiln's
// core kinds are Namespace and Secret, so only those are accepted.
func protobufToJSON(body []byte) ([]byte, error) {
	if !bytes.HasPrefix(body, protobufMagic) {
		return nil, fmt.Errorf("not a Kubernetes protobuf body (missing magic prefix)")
	}
	var u runtime.Unknown
	if err := u.Unmarshal(body[len(protobufMagic):]); err != nil {
		return nil, fmt.Errorf("decoding protobuf envelope: %w", err)
	}
	var obj interface {
		Unmarshal([]byte) error
	}
	switch u.Kind {
	case "Namespace":
		obj = &corev1.Namespace{}
	case "Secret":
		obj = &corev1.Secret{}
	default:
		return nil, fmt.Errorf("protobuf is accepted only for Namespace and Secret, not %q: send JSON", u.Kind)
	}
	if err := obj.Unmarshal(u.Raw); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", u.Kind, err)
	}
	out, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	_ = json.Unmarshal(out, &m)
	m["apiVersion"], m["kind"] = "v1", u.Kind
	pruneEmpty(m)
	return json.Marshal(m)
}

// pruneEmpty drops null and empty-object values that Go's zero structs
// produce (e.g. "status":{} and "creationTimestamp":null).
func pruneEmpty(m map[string]any) {
	for k, v := range m {
		switch t := v.(type) {
		case nil:
			delete(m, k)
		case map[string]any:
			pruneEmpty(t)
			if len(t) == 0 {
				delete(m, k)
			}
		}
	}
}
