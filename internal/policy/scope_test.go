package policy

import (
	"testing"

	"github.com/kilnbuild/kiln/api/v1alpha1"
)

func TestScore(t *testing.T) {
	for entry, want := range map[string]int{
		"*": 1, "@minimal": 10, "sbom": 10, "sbom.*": 10, "sbom.present": 110,
		"sbom.present:x": 210, "*:x": 101, "sbom:x": 110,
	} {
		if got := score(entry); got != want {
			t.Errorf("score(%q) = %d, want %d", entry, got, want)
		}
	}
}

func TestScopeContains(t *testing.T) {
	cols := []string{"minimal", "slsa3"}
	for _, tc := range []struct {
		include, exclude []string
		code, term       string
		want             bool
	}{
		{nil, nil, "sbom.present", "", true},
		{[]string{"@minimal"}, nil, "sbom.present", "", true},
		{[]string{"@redhat"}, nil, "sbom.present", "", false},
		{nil, []string{"sbom"}, "sbom.present", "", false},
		{[]string{"sbom.present"}, []string{"sbom"}, "sbom.present", "", true},
		{[]string{"sbom"}, []string{"sbom.present"}, "sbom.present", "", false},
		{[]string{"@minimal"}, []string{"@minimal"}, "sbom.present", "", false},
		{[]string{"sbom"}, []string{"@slsa3"}, "sbom.present", "", false},
		{nil, []string{"tasks.required_tasks_ran:sign"}, "tasks.required_tasks_ran", "sign", false},
		{nil, []string{"tasks.required_tasks_ran:sign"}, "tasks.required_tasks_ran", "scan", true},
		{[]string{"tasks:sign"}, []string{"tasks.required_tasks_ran"}, "tasks.required_tasks_ran", "sign", false},
		{[]string{"tasks.required_tasks_ran:sign"}, []string{"tasks"}, "tasks.required_tasks_ran", "sign", true},
	} {
		s := newScope(&v1alpha1.PolicyConfig{Include: tc.include, Exclude: tc.exclude})
		if got := s.contains(tc.code, tc.term, cols); got != tc.want {
			t.Errorf("include %v exclude %v: %s:%s in scope = %v, want %v", tc.include, tc.exclude, tc.code, tc.term, got, tc.want)
		}
	}
}
