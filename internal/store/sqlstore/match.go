package sqlstore

import (
	"fmt"
	"slices"

	"github.com/kilnbuild/kiln/internal/store"
)

// Field selector keys served by the objects columns rather than the index.
const (
	fieldName      = "metadata.name"
	fieldNamespace = "metadata.namespace"
)

// validateFilter rejects malformed selectors with store.ErrInvalid.
func validateFilter(f *store.Filter) error {
	for _, set := range [][]store.Requirement{f.Labels, f.Fields} {
		for _, r := range set {
			if err := validateRequirement(r); err != nil {
				return err
			}
		}
	}
	if hasNUL(f.Kind, f.Namespace, f.OwnerUID) || hasNUL(f.Namespaces...) {
		return fmt.Errorf("%w: NUL character or invalid UTF-8 in filter", store.ErrInvalid)
	}
	return nil
}

func validateRequirement(r store.Requirement) error {
	if r.Key == "" || hasNUL(r.Key) || hasNUL(r.Values...) {
		return fmt.Errorf("%w: selector requirement with bad key %q", store.ErrInvalid, r.Key)
	}
	want := -1 // required number of values; -2 means at least one
	switch r.Operator {
	case store.OpEquals, store.OpNotEquals:
		want = 1
	case store.OpIn, store.OpNotIn:
		want = -2
	case store.OpExists, store.OpDoesNotExist:
		want = 0
	default:
		return fmt.Errorf("%w: unknown selector operator %q", store.ErrInvalid, r.Operator)
	}
	if (want == -2 && len(r.Values) == 0) || (want >= 0 && len(r.Values) != want) {
		return fmt.Errorf("%w: operator %q on %q: wrong number of values (%d)",
			store.ErrInvalid, r.Operator, r.Key, len(r.Values))
	}
	return nil
}

// matches reports whether o passes every part of f. It is the reference
// semantics: List narrows candidates in SQL and finishes with matchResidual.
func matches(f *store.Filter, o *store.Object) bool {
	if f.Kind != "" && f.Kind != o.Kind {
		return false
	}
	if f.Namespace != "" && f.Namespace != o.Namespace {
		return false
	}
	if f.Namespaces != nil && !slices.Contains(f.Namespaces, o.Namespace) {
		return false
	}
	if f.OwnerUID != "" && !slices.Contains(o.OwnerUIDs, f.OwnerUID) {
		return false
	}
	return matchLabels(f.Labels, o) && matchFields(f.Fields, o)
}

func matchLabels(reqs []store.Requirement, o *store.Object) bool {
	for _, r := range reqs {
		v, ok := o.Labels[r.Key]
		if !matchValue(r, v, ok) {
			return false
		}
	}
	return true
}

func matchFields(reqs []store.Requirement, o *store.Object) bool {
	for _, r := range reqs {
		v, ok := fieldValue(o, r.Key)
		if !matchValue(r, v, ok) {
			return false
		}
	}
	return true
}

func fieldValue(o *store.Object, key string) (string, bool) {
	switch key {
	case fieldName:
		return o.Name, true
	case fieldNamespace:
		return o.Namespace, true
	}
	v, ok := o.Fields[key]
	return v, ok
}

// matchValue applies one requirement to a value; ok says whether the key is
// present. Negative operators match objects that lack the key, as in
// Kubernetes label selectors.
func matchValue(r store.Requirement, v string, ok bool) bool {
	switch r.Operator {
	case store.OpEquals:
		return ok && v == r.Values[0]
	case store.OpNotEquals:
		return !ok || v != r.Values[0]
	case store.OpIn:
		return ok && slices.Contains(r.Values, v)
	case store.OpNotIn:
		return !ok || !slices.Contains(r.Values, v)
	case store.OpExists:
		return ok
	case store.OpDoesNotExist:
		return !ok
	}
	return false
}
