package capability

import (
	"slices"
	"testing"
)

// TestStatusRecordsWhatPlanningReads: provides and required alternatives
// sorted, optional requirements and runtime ones left out.
func TestStatusRecordsWhatPlanningReads(t *testing.T) {
	t.Parallel()
	s := &Set{
		Provides:        []Provide{{Name: "pkgconfig(greet)"}, {Name: "golang(example.com/greet)"}},
		BuildRequires:   []Requirement{{Any: []string{"make"}}, {Any: []string{"gcc", "clang"}}, {Any: []string{"doxygen"}, Optional: true}},
		RuntimeRequires: []Requirement{{Any: []string{"libc"}}},
		Detected:        []string{"go", "rpm"},
	}
	got := s.Status("c0ffee")
	if got.Commit != "c0ffee" || !slices.Equal(got.Detected, []string{"go", "rpm"}) ||
		!slices.Equal(got.Provides, []string{"golang(example.com/greet)", "pkgconfig(greet)"}) ||
		!slices.Equal(got.Requires, []string{"gcc|clang", "make"}) {
		t.Fatalf("Status() = %+v", got)
	}
}
