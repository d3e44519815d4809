package demo

import (
	"reflect"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/snapshot"
)

func snap(name string, seq, tests string) *v1alpha1.Snapshot {
	s := &v1alpha1.Snapshot{}
	s.Name, s.Labels = name, map[string]string{v1alpha1.LabelSequence: seq}
	if tests != "" {
		s.Status.Conditions = []metav1.Condition{{Type: v1alpha1.ConditionTestsPassed, Status: metav1.ConditionStatus(tests)}}
	}
	s.Status.Tests = []v1alpha1.SnapshotTest{{Scenario: Scenario, State: v1alpha1.TestRunning}}
	return s
}

func rel(name, snapshot, phase string, conds ...string) *v1alpha1.Release {
	r := &v1alpha1.Release{Spec: v1alpha1.ReleaseSpec{Snapshot: snapshot}}
	r.Name, r.Status.Phase = name, phase
	for _, c := range conds {
		r.Status.Conditions = append(r.Status.Conditions, metav1.Condition{Type: c, Status: "True"})
	}
	return r
}

func TestPending(t *testing.T) {
	t.Parallel()
	built := &v1alpha1.Build{Spec: v1alpha1.BuildSpec{Component: "libgreet"}}
	built.Name, built.Status.Phase = "libgreet-1", v1alpha1.BuildSucceeded
	built.Annotations = map[string]string{snapshot.AnnotationSnapshot: "greet-libgreet-1"}
	unmarked := &v1alpha1.Build{Spec: built.Spec, Status: built.Status}
	unmarked.Name = "libgreet-2"
	grouped := &v1alpha1.Build{Spec: v1alpha1.BuildSpec{Component: "greet-cli", Group: "g"}}
	grouped.Name, grouped.Status.Phase = "g-greet-cli-1", v1alpha1.BuildSucceeded
	doneGroup := &v1alpha1.BuildGroup{}
	doneGroup.Annotations = map[string]string{snapshot.AnnotationSnapshot: "greet-g"}
	old, newer := snap("s1", "1", "True"), snap("s2", "2", "")
	cases := []struct {
		name string
		st   state
		want []string
	}{
		{"snapshot not made yet", state{builds: []*v1alpha1.Build{built, unmarked}, autoPlans: 1}, []string{"a snapshot of build libgreet-2"}},
		{"newest still testing", state{builds: []*v1alpha1.Build{built}, snapshots: []*v1alpha1.Snapshot{old, newer}, autoPlans: 1,
			releases: []*v1alpha1.Release{rel("r1", "s1", v1alpha1.ReleaseManaged)}},
			[]string{"release r1 (Managed)", "the tests of snapshot s2 (smoke Running)"}},
		{"group not snapshotted yet", state{builds: []*v1alpha1.Build{grouped, grouped}, groups: map[string]*v1alpha1.BuildGroup{"g": {}}},
			[]string{"a snapshot of build group g"}},
		{"group snapshotted", state{builds: []*v1alpha1.Build{grouped}, groups: map[string]*v1alpha1.BuildGroup{"g": doneGroup}}, nil},
		{"passed, not released yet", state{snapshots: []*v1alpha1.Snapshot{snap("s2", "2", "True")}, autoPlans: 1}, []string{"the release of snapshot s2"}},
		{"passed, no auto-release plan", state{snapshots: []*v1alpha1.Snapshot{snap("s2", "2", "True")}}, nil},
		{"failed its tests", state{snapshots: []*v1alpha1.Snapshot{snap("s2", "2", "False")}, autoPlans: 1}, nil},
		{"released", state{snapshots: []*v1alpha1.Snapshot{snap("s2", "2", "True")}, autoPlans: 1,
			releases: []*v1alpha1.Release{rel("r2", "s2", v1alpha1.ReleaseFailed)}}, nil},
	}
	for _, c := range cases {
		if got := pending(c.st); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: pending = %q, want %q", c.name, got, c.want)
		}
	}
}

func TestReleasePhases(t *testing.T) {
	t.Parallel()
	r := rel("r", "s", v1alpha1.ReleaseSucceeded, v1alpha1.ConditionValidated, v1alpha1.ConditionPolicyPassed, v1alpha1.ConditionManagedPipelineProcessed)
	if got := strings.Join(phases(r), " → "); got != "Validating → Policy → Managed → Succeeded" {
		t.Errorf("phases = %s", got)
	}
	r = rel("r", "s", v1alpha1.ReleaseFailed, v1alpha1.ConditionValidated, v1alpha1.ConditionPolicyPassed)
	r.Status.Conditions[1].Status, r.Status.Conditions[1].Message = "False", "1 violation: signature"
	if got := strings.Join(phases(r), " → ") + " (" + releaseDetail(r) + ")"; got != "Validating → Policy → Failed (PolicyPassed: 1 violation: signature)" {
		t.Errorf("failed release = %s", got)
	}
}
