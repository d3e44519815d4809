package registry

import (
	"bytes"
	"encoding/json"
	"reflect"

	"github.com/kilnbuild/kiln/api/v1alpha1"
)

// Kubernetes-style fields the server owns in metadata.
const lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

// statusValue returns the object's Status field, or an invalid Value when the
// kind has none.
func statusValue(obj v1alpha1.Object) reflect.Value {
	v := reflect.ValueOf(obj)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return reflect.Value{}
	}
	return v.Elem().FieldByName("Status")
}

// clearStatus resets the object's status to its zero value.
func clearStatus(obj v1alpha1.Object) {
	if s := statusValue(obj); s.IsValid() && s.CanSet() {
		s.Set(reflect.Zero(s.Type()))
	}
}

// copyStatus sets dst's status to src's.
func copyStatus(dst, src v1alpha1.Object) {
	d, s := statusValue(dst), statusValue(src)
	if d.IsValid() && s.IsValid() && d.CanSet() && d.Type() == s.Type() {
		d.Set(s)
	}
}

// bodyJSON is the object without apiVersion, kind, metadata and status: what
// the user asks for. A change to it bumps metadata.generation.
func bodyJSON(obj v1alpha1.Object) []byte {
	m := topLevel(obj)
	for _, f := range []string{"apiVersion", "kind", "metadata", "status"} {
		delete(m, f)
	}
	b, _ := json.Marshal(m)
	return b
}

func topLevel(obj v1alpha1.Object) map[string]json.RawMessage {
	b, _ := json.Marshal(obj)
	m := map[string]json.RawMessage{}
	_ = json.Unmarshal(b, &m)
	return m
}

// sameObject reports whether two objects are equal ignoring resourceVersion.
func sameObject(a, b v1alpha1.Object) bool {
	ra, rb := a.GetResourceVersion(), b.GetResourceVersion()
	a.SetResourceVersion("")
	b.SetResourceVersion("")
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	a.SetResourceVersion(ra)
	b.SetResourceVersion(rb)
	return bytes.Equal(ja, jb)
}

// normalizeSecret folds stringData into data and drops the last-applied
// annotation kubectl writes, which would hold the values in plain text.
func normalizeSecret(k *v1alpha1.Kind, obj v1alpha1.Object) {
	if k.Kind != secretKind {
		return
	}
	if n, ok := obj.(interface{ Normalize() }); ok {
		n.Normalize()
	}
	if a := obj.GetAnnotations(); a != nil {
		delete(a, lastAppliedAnnotation)
		if len(a) == 0 {
			obj.SetAnnotations(nil)
		}
	}
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
