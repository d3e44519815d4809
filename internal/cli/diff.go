package cli

import (
	"encoding/base64"
	"reflect"

	"github.com/kilnbuild/kiln/internal/client"
)

// serverMetadata are metadata fields a manifest may carry (copied from
// `get -o yaml`) that the server owns; apply never sends or compares them.
var serverMetadata = []string{
	"resourceVersion", "uid", "creationTimestamp", "generation", "managedFields",
	"selfLink", "deletionTimestamp", "deletionGracePeriodSeconds",
}

// comparedMetadata are the metadata fields apply compares with the live
// object; name and namespace identify it.
var comparedMetadata = []string{"labels", "annotations", "ownerReferences", "finalizers"}

// cleanForApply drops status and server-owned metadata from a manifest.
func cleanForApply(obj client.Object) {
	delete(obj, "status")
	m := obj.Map("metadata")
	for _, f := range serverMetadata {
		delete(m, f)
	}
}

// unchanged reports whether applying desired (as a merge patch) would leave
// live as it is: every field the user wrote (top-level fields other than
// status, and metadata labels, annotations, owner references and
// finalizers) already has that value. Fields the server added (defaults,
// status) do not count.
func unchanged(desired, live client.Object) bool {
	want := desired.DeepCopy()
	delete(want, "status")
	meta := map[string]any{}
	for _, f := range comparedMetadata {
		if v, ok := desired.Map("metadata")[f]; ok {
			meta[f] = v
		}
	}
	want["metadata"] = meta
	foldStringData(want)
	return covered(map[string]any(want), map[string]any(live))
}

// foldStringData turns a Secret's stringData into data, as the server
// stores it.
func foldStringData(obj client.Object) {
	sd := obj.Map("stringData")
	if obj.Kind() != "Secret" || sd == nil {
		return
	}
	data := obj.Map("data")
	if data == nil {
		data = map[string]any{}
		obj["data"] = data
	}
	for k, v := range sd {
		if s, ok := v.(string); ok {
			data[k] = base64.StdEncoding.EncodeToString([]byte(s))
		}
	}
	delete(obj, "stringData")
}

// covered reports whether live already holds desired: maps key by key (a
// null removes the key, so the key must be absent), lists element by
// element with the same length, scalars equal. A zero value the user wrote
// matches an absent field, since the server omits empty fields.
func covered(desired, live any) bool {
	switch d := desired.(type) {
	case map[string]any:
		l, ok := live.(map[string]any)
		if !ok && live != nil {
			return false
		}
		for k, dv := range d {
			lv, present := l[k]
			if dv == nil {
				if present && lv != nil {
					return false
				}
				continue
			}
			if !covered(dv, lv) {
				return false
			}
		}
		return true
	case []any:
		l, ok := live.([]any)
		if !ok && live != nil || len(d) != len(l) {
			return false
		}
		for i := range d {
			if !covered(d[i], l[i]) {
				return false
			}
		}
		return true
	default:
		if live == nil {
			return isZero(desired)
		}
		return reflect.DeepEqual(desired, live)
	}
}

func isZero(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case string:
		return v == ""
	case bool:
		return !v
	case float64:
		return v == 0
	}
	return false
}
