package v1alpha1

import (
	"strings"
	"testing"
)

func labelled(kind string, labels, annotations map[string]string) Object {
	obj := MustLookup(kind).New()
	obj.SetName("x")
	obj.SetLabels(labels)
	obj.SetAnnotations(annotations)
	return obj
}

func TestValidateUserMetaOnCreate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		kind   string
		labels map[string]string
		ann    map[string]string
		bad    string // the key named in the error; "" for none
	}{
		{"Snapshot", map[string]string{LabelSnapshotType: SnapshotTypeOverride, "team": "web"}, nil, ""},
		{"Snapshot", map[string]string{LabelSnapshotType: SnapshotTypeComponent}, nil, LabelSnapshotType},
		{"Snapshot", map[string]string{LabelSequence: "999999"}, nil, LabelSequence},
		{"Snapshot", map[string]string{LabelEventType: EventPush}, nil, LabelEventType},
		{"Snapshot", nil, map[string]string{AnnotationBuildNumbers: `{"cli":9}`}, AnnotationBuildNumbers},
		{"Snapshot", nil, map[string]string{AnnotationSnapshotOf: "cli-1"}, AnnotationSnapshotOf},
		{"Snapshot", map[string]string{LabelPinned: "true", LabelTestRun: "all"}, nil, ""},
		{"Build", map[string]string{LabelEventType: EventPullRequest, LabelPullRequest: "4"}, nil, ""},
		{"Build", map[string]string{LabelEventType: EventPush}, nil, LabelEventType},
		{"Build", map[string]string{LabelComponent: "cli"}, nil, LabelComponent},
		{"Build", nil, map[string]string{AnnotationSnapshot: "-"}, AnnotationSnapshot},
		{"BuildGroup", nil, map[string]string{AnnotationSnapshotAttempt: "9"}, AnnotationSnapshotAttempt},
		{"Release", map[string]string{LabelAutomated: "true"}, nil, LabelAutomated},
		{"ReleasePlan", map[string]string{LabelAuthor: "bob", LabelAutoRelease: "true"}, nil, LabelAuthor},
		{"Component", map[string]string{LabelApplication: "x"}, nil, LabelApplication},
		{"Namespace", map[string]string{"kiln.dev/team": "release"}, nil, ""},
	} {
		errs := ValidateUserMeta(MustLookup(tc.kind), nil, labelled(tc.kind, tc.labels, tc.ann))
		switch {
		case tc.bad == "" && len(errs) > 0:
			t.Errorf("%s %v %v: %v", tc.kind, tc.labels, tc.ann, errs)
		case tc.bad != "" && (len(errs) != 1 || !strings.Contains(errs[0].Error(), tc.bad)):
			t.Errorf("%s %v %v: errors %v, want one naming %s", tc.kind, tc.labels, tc.ann, errs, tc.bad)
		}
	}
}

func TestValidateUserMetaOnUpdate(t *testing.T) {
	t.Parallel()
	k := MustLookup("Snapshot")
	old := labelled("Snapshot", map[string]string{LabelSequence: "4", LabelSnapshotType: SnapshotTypeOverride}, map[string]string{AnnotationBuildNumbers: "{}"})
	same := labelled("Snapshot", map[string]string{LabelSequence: "4", LabelSnapshotType: SnapshotTypeOverride, LabelPinned: "true"}, map[string]string{AnnotationBuildNumbers: "{}", "note": "x"})
	if errs := ValidateUserMeta(k, old, same); len(errs) > 0 {
		t.Errorf("keeping Kiln's labels, changing one's own: %v", errs)
	}
	for name, obj := range map[string]Object{
		"changed":            labelled("Snapshot", map[string]string{LabelSequence: "999999", LabelSnapshotType: SnapshotTypeOverride}, map[string]string{AnnotationBuildNumbers: "{}"}),
		"removed":            labelled("Snapshot", map[string]string{LabelSnapshotType: SnapshotTypeOverride}, map[string]string{AnnotationBuildNumbers: "{}"}),
		"added":              labelled("Snapshot", map[string]string{LabelSequence: "4", LabelSnapshotType: SnapshotTypeOverride, LabelEventType: EventPush}, map[string]string{AnnotationBuildNumbers: "{}"}),
		"annotation changed": labelled("Snapshot", map[string]string{LabelSequence: "4", LabelSnapshotType: SnapshotTypeOverride}, map[string]string{AnnotationBuildNumbers: `{"a":1}`}),
	} {
		if errs := ValidateUserMeta(k, old, obj); len(errs) != 1 {
			t.Errorf("%s: errors %v, want one", name, errs)
		}
	}
	// A value a user may give at creation cannot be added afterwards.
	bare := labelled("Snapshot", map[string]string{LabelSequence: "4"}, nil)
	later := labelled("Snapshot", map[string]string{LabelSequence: "4", LabelSnapshotType: SnapshotTypeOverride}, nil)
	if errs := ValidateUserMeta(k, bare, later); len(errs) != 1 {
		t.Errorf("type added after creation: errors %v, want one", errs)
	}
}

func TestStampUserMeta(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"Release", "ReleasePlan"} {
		obj := labelled(kind, nil, nil)
		StampUserMeta(MustLookup(kind), obj, "Alice")
		if obj.GetLabels()[LabelAuthor] != "alice" {
			t.Errorf("%s: labels %v", kind, obj.GetLabels())
		}
	}
	obj := labelled("Snapshot", nil, nil)
	StampUserMeta(MustLookup("Snapshot"), obj, "alice")
	if len(obj.GetLabels()) != 0 {
		t.Errorf("a Snapshot got %v", obj.GetLabels())
	}
}
