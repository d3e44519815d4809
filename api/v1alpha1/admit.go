package v1alpha1

import (
	"bytes"
	"encoding/json"
	"reflect"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Admit prepares and checks an object for create: admit, plus the rules
// for new objects only (a short name for kinds whose names become label
// values, the kind's CreateValidator).
func Admit(k *Kind, obj Object) field.ErrorList {
	errs := admit(k, obj)
	if k.ShortName {
		errs = append(errs, shortName(field.NewPath("metadata", "name"), obj.GetName(), k.Kind, k.NameUse)...)
	}
	if v, ok := obj.(CreateValidator); ok {
		errs = append(errs, v.ValidateCreate()...)
	}
	return errs
}

// admit writes the kind's canonical apiVersion and kind, applies
// defaults, then validates metadata (ValidateObjectMeta) and the spec.
func admit(k *Kind, obj Object) field.ErrorList {
	k.SetTypeMeta(obj)
	if d, ok := obj.(Defaulter); ok {
		d.Default()
	}
	errs := ValidateObjectMeta(k, obj)
	if v, ok := obj.(Validator); ok {
		errs = append(errs, v.Validate()...)
	}
	return errs
}

// AdmitUpdate admits obj as a replacement of old: admit, plus name and
// namespace never change, the spec never changes for ImmutableSpec kinds,
// and the kind's own UpdateValidator rules.
func AdmitUpdate(k *Kind, old, obj Object) field.ErrorList {
	errs := admit(k, obj)
	errs = append(errs, validateMetaUpdate(old, obj)...)
	if k.ImmutableSpec {
		errs = append(errs, immutableSpec(k.Kind, old, obj)...)
	}
	if u, ok := obj.(UpdateValidator); ok {
		errs = append(errs, u.ValidateUpdate(old)...)
	}
	return dedupe(errs)
}

// kilnOwnedLabels are labels only Kiln sets, at creation (the sequence
// of a user-created Snapshot is set once, afterwards).
var kilnOwnedLabels = []string{LabelAuthor, LabelAutomated, LabelSequence}

func validateMetaUpdate(old, obj Object) field.ErrorList {
	p := field.NewPath("metadata")
	var errs field.ErrorList
	if obj.GetName() != old.GetName() {
		errs = append(errs, field.Invalid(p.Child("name"), obj.GetName(), "field is immutable: was "+old.GetName()))
	}
	if obj.GetNamespace() != old.GetNamespace() {
		errs = append(errs, field.Invalid(p.Child("namespace"), obj.GetNamespace(), "field is immutable: was "+old.GetNamespace()))
	}
	for _, l := range kilnOwnedLabels {
		was := old.GetLabels()[l]
		if obj.GetLabels()[l] != was && (was != "" || l != LabelSequence) {
			errs = append(errs, field.Forbidden(p.Child("labels").Key(l), "set by Kiln when the object is created; it cannot be changed"))
		}
	}
	if obj.GetUID() != "" && old.GetUID() != "" && obj.GetUID() != old.GetUID() {
		errs = append(errs, field.Invalid(p.Child("uid"), string(obj.GetUID()), "field is immutable"))
	}
	return errs
}

// immutableSpec rejects any difference between the specs of old and obj.
func immutableSpec(kind string, old, obj Object) field.ErrorList {
	a, b := specJSON(old), specJSON(obj)
	if a == nil || b == nil || bytes.Equal(a, b) {
		return nil
	}
	return field.ErrorList{field.Forbidden(field.NewPath("spec"), "spec is immutable: create a new "+kind)}
}

// specJSON returns the JSON of an object's Spec field, or nil if it has none.
func specJSON(obj Object) []byte {
	v := reflect.ValueOf(obj)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return nil
	}
	s := v.Elem().FieldByName("Spec")
	if !s.IsValid() {
		return nil
	}
	b, err := json.Marshal(s.Interface())
	if err != nil {
		return nil
	}
	return b
}

func dedupe(errs field.ErrorList) field.ErrorList {
	seen := map[string]bool{}
	out := errs[:0]
	for _, e := range errs {
		if key := e.Error(); !seen[key] {
			seen[key] = true
			out = append(out, e)
		}
	}
	return out
}

// applyOrder is the order kiln apply creates kinds in: each kind after the
// kinds it refers to.
var applyOrder = []string{
	"Namespace", "User", "ServiceAccount", "RoleBinding", "Secret", "Policy",
	"Application", "Component", "IntegrationTestScenario", "ReleasePlan",
	"ReleasePlanAdmission", "Snapshot", "Release",
}

// ApplyOrder ranks a kind (by any name Lookup accepts, or an alias such as
// EnterpriseContractPolicy) for creation: lower first. Unknown kinds rank
// last.
func ApplyOrder(kind string) int {
	if k, ok := Lookup(kind); ok {
		kind = k.Kind
	}
	for key, alias := range aliasKinds {
		if strings.HasSuffix(key, " "+kind) {
			kind = alias
		}
	}
	for i, k := range applyOrder {
		if k == kind {
			return i
		}
	}
	return len(applyOrder)
}

// SortForApply orders objects for creation by ApplyOrder, keeping the
// input order among objects of the same kind.
func SortForApply(objs []Object) {
	sort.SliceStable(objs, func(i, j int) bool {
		return ApplyOrder(kindName(objs[i])) < ApplyOrder(kindName(objs[j]))
	})
}

func kindName(obj Object) string {
	if k, ok := KindOf(obj); ok {
		return k.Kind
	}
	return obj.GetObjectKind().GroupVersionKind().Kind
}
