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
