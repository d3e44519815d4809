package v1alpha1

import (
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// System labels and annotations are the metadata Kiln's controllers act
// on: a Snapshot's sequence decides what auto-release considers newer, its
// type and event type whether it is released at all, a Build's event type
// whether its output becomes the component's, the marks on builds and
// groups whether a Snapshot is still to be made. Only Kiln sets them. A
// write through the API (create, update, merge or JSON patch, apply) may
// not add, change or remove one, on any kind — except the values in
// userValues, which a user may give when creating an object: each only
// restricts what Kiln does with it (an override Snapshot is released by
// hand only; a pull request's build never becomes the component's and is
// never released).
var (
	systemLabels = []string{
		LabelSnapshotType, LabelEventType, LabelPullRequest, LabelSequence,
		LabelBuild, LabelBuildGroup, LabelGroup, LabelComponent, LabelApplication,
		LabelAuthor, LabelAutomated,
	}
	systemAnnotations = []string{
		AnnotationBuildNumbers, AnnotationSnapshot, AnnotationSnapshotOf, AnnotationSnapshotAttempt,
		AnnotationDependants,
	}
	userValues = map[string]map[string][]string{
		"Snapshot": {LabelSnapshotType: {SnapshotTypeOverride}},
		// The number is checked by Build.Validate.
		"Build": {LabelEventType: {EventPullRequest}, LabelPullRequest: nil},
	}
)

// SystemLabels lists the labels only Kiln sets.
func SystemLabels() []string { return append([]string(nil), systemLabels...) }

// SystemAnnotations lists the annotations only Kiln sets.
func SystemAnnotations() []string { return append([]string(nil), systemAnnotations...) }

// ValidateUserMeta checks a user's write of obj (old is nil on create)
// against the system labels and annotations: on create, only the values a
// user may give; on update, none added, changed or removed.
func ValidateUserMeta(k *Kind, old, obj Object) field.ErrorList {
	p := field.NewPath("metadata")
	var oldLabels, oldAnn map[string]string
	if old != nil {
		oldLabels, oldAnn = old.GetLabels(), old.GetAnnotations()
	}
	errs := checkSystemKeys(k, p.Child("labels"), systemLabels, oldLabels, obj.GetLabels(), old == nil)
	return append(errs, checkSystemKeys(k, p.Child("annotations"), systemAnnotations, oldAnn, obj.GetAnnotations(), old == nil)...)
}

func checkSystemKeys(k *Kind, p *field.Path, keys []string, old, cur map[string]string, create bool) field.ErrorList {
	var errs field.ErrorList
	for _, key := range keys {
		was, had := old[key]
		v, has := cur[key]
		switch {
		case create && has && !userMay(k.Kind, key, v):
			errs = append(errs, field.Forbidden(p.Key(key), createMessage(k.Kind, key)))
		case !create && (has != had || v != was):
			errs = append(errs, field.Forbidden(p.Key(key), updateMessage(key, was, had)))
		}
	}
	return errs
}

// userMay reports whether a user may create an object of kind with key
// set to v.
func userMay(kind, key, v string) bool {
	allowed, ok := userValues[kind][key]
	if !ok {
		return false
	}
	if allowed == nil {
		return true
	}
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	return false
}

func createMessage(kind, key string) string {
	allowed, ok := userValues[kind][key]
	if ok && allowed != nil {
		return fmt.Sprintf("Kiln sets %s; on a new %s you may set it only to %s — use that value or remove it", key, kind, quoteAll(allowed))
	}
	return fmt.Sprintf("Kiln sets %s, not users: remove it (Kiln acts on its value, so only Kiln writes it)", key)
}

func updateMessage(key, was string, had bool) string {
	if !had {
		return fmt.Sprintf("Kiln sets %s, not users: it cannot be added — remove it from the change", key)
	}
	return fmt.Sprintf("Kiln set %s to %q: it cannot be changed or removed — leave it as it is", key, was)
}

func quoteAll(vs []string) string {
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = fmt.Sprintf("%q", v)
	}
	sort.Strings(q)
	return strings.Join(q, " or ")
}

// StampUserMeta sets the system labels Kiln records about the user who
// creates obj: the author of a Release or ReleasePlan.
func StampUserMeta(k *Kind, obj Object, user string) {
	if k.Kind != "Release" && k.Kind != "ReleasePlan" {
		return
	}
	labels := obj.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[LabelAuthor] = AuthorLabel(user)
	obj.SetLabels(labels)
}

// AuthorLabel is the value of LabelAuthor for a user name: lower-case,
// other characters than letters, digits, '-' and '.' as '-', fitted to a
// label value.
func AuthorLabel(user string) string {
	lower := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '.':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return '-'
	}, user)
	return LabelValue(lower)
}
