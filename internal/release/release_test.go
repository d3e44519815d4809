package release

import (
	"reflect"
	"strconv"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kilnbuild/kiln/api/v1alpha1"
)

func TestMergeData(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		layers []map[string]any
		want   map[string]any
	}{
		{name: "nothing", want: map[string]any{}},
		{name: "nil layers", layers: []map[string]any{nil, nil}, want: map[string]any{}},
		{
			name: "admission wins over plan and release",
			layers: []map[string]any{
				{"env": "release", "only-release": 1},
				{"env": "plan", "only-plan": true},
				{"env": "admission"},
			},
			want: map[string]any{"env": "admission", "only-release": 1, "only-plan": true},
		},
		{
			name: "nested maps merge key by key",
			layers: []map[string]any{
				{"mapping": map[string]any{"defaults": map[string]any{"repository": "r/{{ component }}", "tags": []any{"latest"}}}},
				{"mapping": map[string]any{"defaults": map[string]any{"tags": []any{"v1"}}, "components": []any{"api"}}},
			},
			want: map[string]any{"mapping": map[string]any{
				"defaults":   map[string]any{"repository": "r/{{ component }}", "tags": []any{"v1"}},
				"components": []any{"api"},
			}},
		},
		{
			name:   "a scalar replaces a map",
			layers: []map[string]any{{"registry": map[string]any{"secret": "s"}}, {"registry": "none"}},
			want:   map[string]any{"registry": "none"},
		},
		{
			name:   "a map replaces a scalar",
			layers: []map[string]any{{"registry": "none"}, {"registry": map[string]any{"secret": "s"}}},
			want:   map[string]any{"registry": map[string]any{"secret": "s"}},
		},
		{
			name:   "lists are replaced, not appended",
			layers: []map[string]any{{"tags": []any{"a", "b"}}, {"tags": []any{"c"}}},
			want:   map[string]any{"tags": []any{"c"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := MergeData(tt.layers...); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("MergeData =\n %v\nwant\n %v", got, tt.want)
			}
		})
	}
}

func TestMergeDataDoesNotMutateInputs(t *testing.T) {
	t.Parallel()
	release := func() map[string]any {
		return map[string]any{"mapping": map[string]any{"defaults": map[string]any{"repository": "a"}}}
	}
	plan := func() map[string]any {
		return map[string]any{"mapping": map[string]any{"defaults": map[string]any{"tags": []any{"t"}}}, "x": 1}
	}
	r, p := release(), plan()
	got := MergeData(r, p)
	if !reflect.DeepEqual(r, release()) || !reflect.DeepEqual(p, plan()) {
		t.Fatalf("MergeData changed its inputs: %v, %v", r, p)
	}
	// Changing the result must not reach the inputs either.
	got["mapping"].(map[string]any)["defaults"].(map[string]any)["repository"] = "changed"
	got["mapping"].(map[string]any)["new"] = true
	if !reflect.DeepEqual(r, release()) || !reflect.DeepEqual(p, plan()) {
		t.Errorf("the result shares maps with the inputs: %v, %v", r, p)
	}
}

// Fixtures for Validate and ShouldAutoRelease.

func passed(status metav1.ConditionStatus, reason, msg string) metav1.Condition {
	return metav1.Condition{Type: v1alpha1.ConditionTestsPassed, Status: status, Reason: reason, Message: msg}
}

func newSnapshot(app string, seq int64, labels map[string]string, conds ...metav1.Condition) *v1alpha1.Snapshot {
	s := &v1alpha1.Snapshot{}
	s.Name, s.Namespace = app+"-snap-"+strconv.FormatInt(seq, 10), "team"
	s.Spec.Application = app
	s.Labels = map[string]string{v1alpha1.LabelSnapshotType: v1alpha1.SnapshotTypeComponent, v1alpha1.LabelEventType: v1alpha1.EventPush}
	if seq > 0 {
		s.Labels[v1alpha1.LabelSequence] = strconv.FormatInt(seq, 10)
	}
	for k, v := range labels {
		s.Labels[k] = v
	}
	s.Status.Conditions = conds
	return s
}

func newPlan(app string, labels map[string]string) *v1alpha1.ReleasePlan {
	p := &v1alpha1.ReleasePlan{}
	p.Name, p.Namespace = "to-prod", "team"
	p.Labels = labels
	p.Spec.Application, p.Spec.Target = app, "prod"
	return p
}

func admission(name, origin string, apps ...string) *v1alpha1.ReleasePlanAdmission {
	a := &v1alpha1.ReleasePlanAdmission{}
	a.Name, a.Namespace = name, "prod"
	a.Spec.Origin, a.Spec.Applications = origin, apps
	return a
}

func namespace(typ string) *v1alpha1.Namespace {
	n := &v1alpha1.Namespace{}
	n.Name = "prod"
	n.Spec.Type = typ
	return n
}

func TestValidate(t *testing.T) {
	t.Parallel()
	ok := passed(metav1.ConditionTrue, "Passed", "all required tests passed")
	rel := &v1alpha1.Release{}
	rel.Name, rel.Namespace = "r1", "team"
	base := func() Inputs {
		return Inputs{
			Release:    rel,
			Snapshot:   newSnapshot("shop", 3, nil, ok),
			Plan:       newPlan("shop", nil),
			Target:     namespace(v1alpha1.NamespaceManaged),
			Admissions: []*v1alpha1.ReleasePlanAdmission{admission("shop-admission", "team", "blog", "shop")},
		}
	}
	tests := []struct {
		name      string
		change    func(*Inputs)
		wait      bool
		reason    string
		message   []string // substrings
		admission string
	}{
		{name: "ok", change: func(*Inputs) {}, admission: "shop-admission"},
		{
			name:    "application mismatch",
			change:  func(in *Inputs) { in.Snapshot = newSnapshot("blog", 3, nil, ok) },
			reason:  "ApplicationMismatch",
			message: []string{`snapshot blog-snap-3 is of application "blog"`, `release plan to-prod releases "shop"`},
		},
		{
			name:    "missing target",
			change:  func(in *Inputs) { in.Target = nil },
			reason:  "NoTarget",
			message: []string{`targets namespace "prod", which does not exist`},
		},
		{
			name:    "tenant target",
			change:  func(in *Inputs) { in.Target = namespace(v1alpha1.NamespaceTenant) },
			reason:  "TargetNotManaged",
			message: []string{`targets "prod", a tenant namespace`},
		},
		{
			name:    "no admission at all",
			change:  func(in *Inputs) { in.Admissions = nil },
			reason:  "NoAdmission",
			message: []string{"no ReleasePlanAdmission in prod", `application "shop" from team`, "spec.origin: team", "spec.applications: [shop]"},
		},
		{
			name: "admissions for another origin or another application are ignored",
			change: func(in *Inputs) {
				in.Admissions = []*v1alpha1.ReleasePlanAdmission{admission("a", "other-team", "shop"), admission("b", "team", "blog")}
			},
			reason:  "NoAdmission",
			message: []string{"spec.origin: team", "spec.applications: [shop]"},
		},
		{
			name: "several admissions: the first by name",
			change: func(in *Inputs) {
				in.Admissions = []*v1alpha1.ReleasePlanAdmission{
					admission("zz", "team", "shop"), admission("other", "other-team", "shop"), admission("mm", "team", "shop"),
				}
			},
			admission: "mm",
		},
		{
			name:      "tests not started: wait",
			change:    func(in *Inputs) { in.Snapshot = newSnapshot("shop", 3, nil) },
			wait:      true,
			reason:    "TestsPending",
			message:   []string{"waiting for the snapshot's tests: tests have not started"},
			admission: "shop-admission",
		},
		{
			name: "tests Unknown: wait",
			change: func(in *Inputs) {
				in.Snapshot = newSnapshot("shop", 3, nil, passed(metav1.ConditionUnknown, "InProgress", "waiting for e2e"))
			},
			wait:      true,
			reason:    "InProgress",
			message:   []string{"waiting for the snapshot's tests: waiting for e2e"},
			admission: "shop-admission",
		},
		{
			name: "tests False: TestsFailed",
			change: func(in *Inputs) {
				in.Snapshot = newSnapshot("shop", 3, nil, passed(metav1.ConditionFalse, "Failed", "required tests failed: e2e (FAILURE)"))
			},
			reason:    "TestsFailed",
			message:   []string{"snapshot shop-snap-3 did not pass its tests: required tests failed: e2e (FAILURE)"},
			admission: "shop-admission",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := base()
			tt.change(&in)
			v := Validate(in)
			if v.Wait != tt.wait || v.Reason != tt.reason {
				t.Errorf("Validate = {Wait: %v, Reason: %q}, want {Wait: %v, Reason: %q} (message %q)", v.Wait, v.Reason, tt.wait, tt.reason, v.Message)
			}
			for _, m := range tt.message {
				if !strings.Contains(v.Message, m) {
					t.Errorf("message %q does not contain %q", v.Message, m)
				}
			}
			if tt.message == nil && v.Message != "" {
				t.Errorf("message = %q, want none", v.Message)
			}
			gotAdm := ""
			if v.Admission != nil {
				gotAdm = v.Admission.Name
			}
			if gotAdm != tt.admission {
				t.Errorf("admission = %q, want %q", gotAdm, tt.admission)
			}
			if wantOK := !tt.wait && tt.reason == ""; v.OK() != wantOK {
				t.Errorf("OK() = %v, want %v", v.OK(), wantOK)
			}
		})
	}
}

func TestShouldAutoRelease(t *testing.T) {
	t.Parallel()
	ok := passed(metav1.ConditionTrue, "Passed", "")
	tests := []struct {
		name     string
		snap     *v1alpha1.Snapshot
		plan     *v1alpha1.ReleasePlan
		released []int64
		want     bool
		why      string // substring
	}{
		{name: "push snapshot, nothing released", snap: newSnapshot("shop", 5, nil, ok), plan: newPlan("shop", nil), want: true},
		{name: "plan labelled true", snap: newSnapshot("shop", 5, nil, ok),
			plan: newPlan("shop", map[string]string{v1alpha1.LabelAutoRelease: "true"}), want: true},
		{name: "group snapshot", snap: newSnapshot("shop", 5, map[string]string{v1alpha1.LabelSnapshotType: v1alpha1.SnapshotTypeGroup}, ok),
			plan: newPlan("shop", nil), want: true},
		{name: "older snapshots released", snap: newSnapshot("shop", 5, nil, ok), plan: newPlan("shop", nil), released: []int64{1, 4}, want: true},
		{name: "plan does not auto-release", snap: newSnapshot("shop", 5, nil, ok),
			plan: newPlan("shop", map[string]string{v1alpha1.LabelAutoRelease: "false"}), why: "the plan does not auto-release"},
		{name: "another application", snap: newSnapshot("blog", 5, nil, ok), plan: newPlan("shop", nil), why: "another application"},
		{name: "pull-request snapshot", snap: newSnapshot("shop", 5, map[string]string{v1alpha1.LabelEventType: v1alpha1.EventPullRequest}, ok),
			plan: newPlan("shop", nil), why: "pull-request snapshots are not released"},
		{name: "override snapshot", snap: newSnapshot("shop", 5, map[string]string{v1alpha1.LabelSnapshotType: v1alpha1.SnapshotTypeOverride}, ok),
			plan: newPlan("shop", nil), why: "override snapshots are released by hand"},
		{name: "no sequence", snap: newSnapshot("shop", 0, nil, ok), plan: newPlan("shop", nil), why: "no sequence number"},
		{name: "tests not finished", snap: newSnapshot("shop", 5, nil, passed(metav1.ConditionUnknown, "InProgress", "")),
			plan: newPlan("shop", nil), why: "tests have not passed"},
		{name: "tests failed", snap: newSnapshot("shop", 5, nil, passed(metav1.ConditionFalse, "Failed", "")),
			plan: newPlan("shop", nil), why: "tests have not passed"},
		{name: "tests never started", snap: newSnapshot("shop", 5, nil), plan: newPlan("shop", nil), why: "tests have not passed"},
		{name: "same sequence already released", snap: newSnapshot("shop", 5, nil, ok), plan: newPlan("shop", nil), released: []int64{2, 5},
			why: "a snapshot as new or newer (sequence 5 ≥ 5) was already released through to-prod"},
		{name: "newer already released", snap: newSnapshot("shop", 5, nil, ok), plan: newPlan("shop", nil), released: []int64{9, 1},
			why: "(sequence 9 ≥ 5)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, why := ShouldAutoRelease(tt.snap, tt.plan, tt.released)
			if got != tt.want {
				t.Fatalf("ShouldAutoRelease = %v (%q), want %v", got, why, tt.want)
			}
			if tt.want && why != "" {
				t.Errorf("reason %q given for a release", why)
			}
			if !tt.want && !strings.Contains(why, tt.why) {
				t.Errorf("reason = %q, want one containing %q", why, tt.why)
			}
		})
	}
}

func TestAutoName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, snapshot, plan, want string
	}{
		{"short", "shop-api-7", "to-prod", "shop-api-7-to-prod"},
		{"exactly 253", strings.Repeat("s", 245), "to-prod", strings.Repeat("s", 245) + "-to-prod"},
		{"too long keeps the head and a hash of the whole", strings.Repeat("s", 250), "to-prod", v1alpha1.FitName(strings.Repeat("s", 250) + "-to-prod")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := AutoName(tt.snapshot, tt.plan)
			if got != tt.want {
				t.Errorf("AutoName = %q (len %d), want %q (len %d)", got, len(got), tt.want, len(tt.want))
			}
			if len(got) > 253 {
				t.Errorf("AutoName is %d characters long", len(got))
			}
		})
	}
	// Two long snapshots through one plan never share a Release name (a
	// shared one would make the second look already released).
	long := strings.Repeat("x", 250)
	if a, b := AutoName("a"+long, "to-prod"), AutoName("b"+long, "to-prod"); a == b {
		t.Errorf("AutoName collides: %q", a)
	}
}
