package v1alpha1

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"
)

func TestFitName(t *testing.T) {
	t.Parallel()
	for _, n := range []int{1, 63, 64, 252, 253} {
		name := strings.Repeat("a", n)
		if got := FitName(name); got != name {
			t.Errorf("FitName of %d characters changed it to %q", n, got)
		}
	}
	seen := map[string]string{}
	for _, name := range []string{strings.Repeat("x", 254), "a" + strings.Repeat("x", 400), "b" + strings.Repeat("x", 400),
		strings.Repeat("ab.", 100), strings.Repeat("a-", 200), "-.-" + strings.Repeat("y", 300)} {
		got := FitName(name)
		if errs := validation.IsDNS1123Subdomain(got); len(errs) > 0 {
			t.Errorf("FitName(%q) = %q: %v", name, got, errs)
		}
		if other, dup := seen[got]; dup {
			t.Errorf("FitName(%q) = FitName(%q) = %q", name, other, got)
		}
		seen[got] = name
	}
}

func TestLabelValue(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"", "cli", strings.Repeat("a", 63), "Bob_1.x"} {
		if got := LabelValue(v); got != v {
			t.Errorf("LabelValue(%q) = %q; a valid value stays as it is", v, got)
		}
	}
	seen := map[string]string{}
	for _, v := range []string{strings.Repeat("a", 64), strings.Repeat("a", 253), "b" + strings.Repeat("a", 252),
		strings.Repeat("a", 45) + ".-" + strings.Repeat("b", 30), "bob@example.com", "bob-", "@@@", "system:serviceaccount:team:ci"} {
		got := LabelValue(v)
		if errs := validation.IsValidLabelValue(got); len(errs) > 0 || got == "" {
			t.Errorf("LabelValue(%q) = %q: %v", v, got, errs)
		}
		if other, dup := seen[got]; dup {
			t.Errorf("LabelValue(%q) = LabelValue(%q) = %q", v, other, got)
		}
		seen[got] = v
	}
	if got := LabelValue(strings.Repeat("c", 100)); !strings.HasPrefix(got, strings.Repeat("c", 46)+"-") || len(got) != 63 {
		t.Errorf("a long name keeps its head: %q", got)
	}
}

func TestAuthorLabel(t *testing.T) {
	t.Parallel()
	for user, want := range map[string]string{"alice": "alice", "Bob": "bob", "system:serviceaccount:team-a:ci": "system-serviceaccount-team-a-ci"} {
		if got := AuthorLabel(user); got != want {
			t.Errorf("AuthorLabel(%q) = %q, want %q", user, got, want)
		}
	}
	for _, user := range []string{"bob@", strings.Repeat("u", 200), "system:serviceaccount:" + strings.Repeat("n", 63) + ":" + strings.Repeat("s", 200)} {
		if got := AuthorLabel(user); len(validation.IsValidLabelValue(got)) > 0 {
			t.Errorf("AuthorLabel(%q) = %q is not a label value", user, got)
		}
	}
}

// Component and Application names become label values: new ones are at
// most 63 characters, with a message saying why; stored ones are not
// judged again on update (they could not be deleted otherwise).
func TestShortNames(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"Component", "Application"} {
		k := MustLookup(kind)
		for n, ok := range map[int]bool{1: true, 63: true, 64: false, 253: false} {
			obj := k.New()
			obj.SetName(strings.Repeat("n", n))
			errs := Admit(k, obj)
			named := false
			for _, e := range errs {
				named = named || e.Field == "metadata.name" && strings.Contains(e.Detail, "label value")
			}
			if named == ok {
				t.Errorf("%s named with %d characters: %v", kind, n, errs)
			}
			if !ok {
				for _, e := range AdmitUpdate(k, obj, obj) {
					if e.Field == "metadata.name" {
						t.Errorf("%s of %d characters, already stored, refused on update: %v", kind, n, e)
					}
				}
			}
		}
	}
	snap := &Snapshot{Spec: SnapshotSpec{Application: "app", Components: []SnapshotComponent{{Name: strings.Repeat("c", 64),
		ContainerImage: "r/x@sha256:" + strings.Repeat("0", 64)}}}}
	snap.Name, snap.Namespace = "s", "team"
	if errs := Admit(MustLookup("Snapshot"), snap); len(errs) != 1 || errs[0].Field != "spec.components[0].name" {
		t.Errorf("snapshot with a 64-character component: %v", errs)
	}
	g := &BuildGroup{Spec: BuildGroupSpec{Components: []string{strings.Repeat("c", 253)}}}
	g.Name, g.Namespace = strings.Repeat("g", 253), "team"
	if errs := Admit(MustLookup("BuildGroup"), g); len(errs) != 1 || errs[0].Field != "spec.components[0]" {
		t.Errorf("group of a 253-character component: %v", errs)
	}
}
