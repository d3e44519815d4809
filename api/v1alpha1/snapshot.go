package v1alpha1

import (
	"regexp"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Labels Kiln sets on Snapshots (Konflux's names where Konflux has one).
const (
	// LabelSnapshotType is component (one build), group (a BuildGroup) or
	// override (created by a user).
	LabelSnapshotType = "test.appstudio.openshift.io/type"
	// LabelEventType is push or pull_request: what produced the build.
	LabelEventType = "pac.test.appstudio.openshift.io/event-type"
	// LabelBuild names the Build a component Snapshot was made for.
	LabelBuild = "kiln.dev/build"
	// LabelBuildGroup names the BuildGroup a group Snapshot was made for.
	LabelBuildGroup = "kiln.dev/build-group"
	// LabelSequence orders the Snapshots of an Application: a larger number
	// is newer. Kiln sets it.
	LabelSequence = "kiln.dev/sequence"
	// LabelPinned "true" keeps a Snapshot from garbage collection.
	LabelPinned = "kiln.dev/pinned"
	// LabelTestRun asks for scenarios to run again: a scenario name,
	// "failed" (every failed or errored scenario) or "all". Kiln removes
	// the label once the runs are queued.
	LabelTestRun = "test.appstudio.openshift.io/run"
	// AnnotationBuildNumbers maps each component to the build number of
	// its artifact (JSON), for release tag templates ({{ build_counter }}).
	AnnotationBuildNumbers = "kiln.dev/build-numbers"
	// AnnotationSnapshot on a Build or BuildGroup records the Snapshot made
	// for it ("-" when none was needed), so a restart does not redo it.
	AnnotationSnapshot = "kiln.dev/snapshot"
	// AnnotationSnapshotOf names the Build or BuildGroup a Snapshot was
	// made for, in full (the label may be shortened).
	AnnotationSnapshotOf = "kiln.dev/snapshot-of"
	// AnnotationSnapshotAttempt on a BuildGroup is the status.retried value
	// (the attempt) AnnotationSnapshot was written for: a group that failed
	// ("-", no Snapshot) and is retried gets its Snapshot when the retry
	// succeeds. Missing means attempt 0.
	AnnotationSnapshotAttempt = "kiln.dev/snapshot-attempt"
)

// Snapshot types and event types.
const (
	SnapshotTypeComponent = "component"
	SnapshotTypeGroup     = "group"
	SnapshotTypeOverride  = "override"
	EventPush             = "push"
	EventPullRequest      = "pull_request"
)

// Test states and TEST_OUTPUT results.
const (
	TestPending   = "Pending"
	TestRunning   = "Running"
	TestFinished  = "Finished"
	TestInvalid   = "Invalid"
	ResultSuccess = "SUCCESS"
	ResultFailure = "FAILURE"
	ResultWarning = "WARNING"
	ResultSkipped = "SKIPPED"
	ResultError   = "ERROR"
)

// Condition types Kiln sets on Snapshots and Releases.
const (
	// ConditionTestsPassed is True when every blocking
	// IntegrationTestScenario passed for the Snapshot.
	ConditionTestsPassed = "TestsPassed"
	// ConditionReleased is True when the Snapshot (or Release) was released.
	ConditionReleased = "Released"
)

var commitRE = regexp.MustCompile(`^(?:[0-9a-f]{40}|[0-9a-f]{64})$`)

// Snapshot is an immutable record of one image per component of an
// Application: what is tested and released together. To change it, create a
// new Snapshot.
type Snapshot struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              SnapshotSpec   `json:"spec,omitempty"`
	Status            SnapshotStatus `json:"status,omitzero"`
}

// SnapshotSpec is immutable once created.
type SnapshotSpec struct {
	// Application is the name of the Application (same namespace). Required.
	// Deleting the Application deletes its Snapshots.
	Application string `json:"application"`
	// Components are the images of the snapshot, one per component name.
	// Required, at least one.
	Components []SnapshotComponent `json:"components"`
}

// SnapshotComponent is one component's image in a Snapshot.
type SnapshotComponent struct {
	// Name of the Component. Required; unique within the Snapshot.
	Name string `json:"name"`
	// ContainerImage is the image, pinned by digest:
	// <repository>@sha256:<64 hex digits>. Required.
	ContainerImage string `json:"containerImage"`
	// Source is the code the image was built from. Optional.
	Source *SnapshotSource `json:"source,omitempty"`
}

// SnapshotSource is the code an image was built from.
type SnapshotSource struct {
	// Git is the repository and commit.
	Git *SnapshotGitSource `json:"git,omitempty"`
}

// SnapshotGitSource is a repository and an exact commit.
type SnapshotGitSource struct {
	// URL of the repository (same forms as Component). Required.
	URL string `json:"url"`
	// Revision is the full commit hash (40 or 64 lower-case hex digits).
	// Optional.
	Revision string `json:"revision,omitempty"`
}

// SnapshotStatus is written by Kiln.
type SnapshotStatus struct {
	// Tests is one entry per IntegrationTestScenario that applies to the
	// Snapshot: its state and TEST_OUTPUT.
	Tests []SnapshotTest `json:"tests,omitempty"`
	// Conditions: TestsPassed, Released.
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// SnapshotTest is one scenario's run against a Snapshot.
type SnapshotTest struct {
	// Scenario is the IntegrationTestScenario's name.
	Scenario string `json:"scenario"`
	// Optional is true when the scenario does not block releases.
	Optional bool `json:"optional,omitempty"`
	// State is Pending, Running or Finished.
	State string `json:"state"`
	// Result is TEST_OUTPUT's result once finished: SUCCESS, FAILURE,
	// WARNING, SKIPPED or ERROR (the pipeline failed without reporting).
	Result string `json:"result,omitempty"`
	// Successes, Failures and Warnings are TEST_OUTPUT's counts.
	Successes int `json:"successes,omitempty"`
	// Failures is the number of failed checks.
	Failures int `json:"failures,omitempty"`
	// Warnings is the number of checks that warned.
	Warnings int `json:"warnings,omitempty"`
	// Note is TEST_OUTPUT's note, or why the run failed.
	Note string `json:"note,omitempty"`
	// Attempts counts the runs (re-runs included).
	Attempts int `json:"attempts,omitempty"`
	// Interrupted is set when a server restart interrupted a run: it is
	// run again once; a second interruption ends it with ERROR. A
	// requested re-run clears it.
	Interrupted bool `json:"interrupted,omitempty"`
	// StartTime and CompletionTime bound the last run.
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// CompletionTime is when the last run finished.
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
	// Runs records each run, interrupted ones included (the last
	// MaxTestRuns; Attempts counts them all).
	Runs []SnapshotTestRun `json:"runs,omitempty"`
}

// MaxTestRuns bounds SnapshotTest.Runs.
const MaxTestRuns = 20

// SnapshotTestRun is one run of a scenario against a Snapshot.
type SnapshotTestRun struct {
	// Attempt numbers the run, from 1.
	Attempt int `json:"attempt"`
	// StartTime is when it started.
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// CompletionTime is when it ended (or when Kiln found it interrupted).
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
	// Result is the run's result, as SnapshotTest.Result; empty while it
	// runs and for an interrupted run.
	Result string `json:"result,omitempty"`
	// Interrupted is set when a server restart ended the run.
	Interrupted bool `json:"interrupted,omitempty"`
	// Note is TEST_OUTPUT's note or why the run ended.
	Note string `json:"note,omitempty"`
}

// Passed reports whether a finished test counts as passed: SUCCESS,
// WARNING and SKIPPED pass; FAILURE and ERROR do not.
func (t SnapshotTest) Passed() bool {
	return t.State == TestFinished && (t.Result == ResultSuccess || t.Result == ResultWarning || t.Result == ResultSkipped)
}

// Sequence is the Snapshot's LabelSequence (0 when Kiln has not set it).
func (s *Snapshot) Sequence() int64 {
	n, _ := strconv.ParseInt(s.Labels[LabelSequence], 10, 64)
	return n
}

// Image returns the component's image, "" when the Snapshot has none.
func (s *Snapshot) Image(component string) string {
	for _, c := range s.Spec.Components {
		if c.Name == component {
			return c.ContainerImage
		}
	}
	return ""
}

func (s *Snapshot) Validate() field.ErrorList {
	p := field.NewPath("spec")
	errs := refName(p.Child("application"), s.Spec.Application, "Application")
	if len(s.Spec.Components) == 0 {
		return append(errs, field.Required(p.Child("components"), "at least one component image"))
	}
	seen := map[string]bool{}
	for i, c := range s.Spec.Components {
		cp := p.Child("components").Index(i)
		errs = append(errs, validateSnapshotComponent(cp, c)...)
		if seen[c.Name] {
			errs = append(errs, field.Duplicate(cp.Child("name"), c.Name))
		}
		seen[c.Name] = true
	}
	return errs
}

func validateSnapshotComponent(p *field.Path, c SnapshotComponent) field.ErrorList {
	errs := refName(p.Child("name"), c.Name, "Component")
	errs = append(errs, validatePinnedImage(p.Child("containerImage"), c.ContainerImage)...)
	if c.Source == nil || c.Source.Git == nil {
		return errs
	}
	gp := p.Child("source", "git")
	errs = append(errs, validateGitURL(gp.Child("url"), c.Source.Git.URL)...)
	if r := c.Source.Git.Revision; r != "" && !commitRE.MatchString(r) {
		errs = append(errs, field.Invalid(gp.Child("revision"), r, "must be a full commit hash (40 or 64 lower-case hex digits), not a branch or tag"))
	}
	return errs
}

const pinnedForm = "must be pinned by digest: <repository>@sha256:<64 hex digits>"

// validatePinnedImage checks a required repo@sha256:<hex> reference.
func validatePinnedImage(p *field.Path, img string) field.ErrorList {
	if img == "" {
		return field.ErrorList{field.Required(p, "an image pinned by digest: <repository>@sha256:<64 hex digits>")}
	}
	ref, err := ParseImageReference(img)
	switch {
	case err != nil:
		return field.ErrorList{field.Invalid(p, img, err.Error())}
	case ref.Tag != "" || !sha256RE.MatchString(ref.Digest):
		return field.ErrorList{field.Invalid(p, img, pinnedForm)}
	}
	return nil
}

// ValidateCreate requires component names that fit a label value, as
// Component names do: a Snapshot's component is tested and published
// under its name.
func (s *Snapshot) ValidateCreate() field.ErrorList {
	var errs field.ErrorList
	for i, c := range s.Spec.Components {
		errs = append(errs, shortName(field.NewPath("spec", "components").Index(i).Child("name"), c.Name, "Component", componentNameUse)...)
	}
	return errs
}

// ValidateUpdate rejects any change to the spec.
func (s *Snapshot) ValidateUpdate(old Object) field.ErrorList {
	return immutableSpec("Snapshot", old, s)
}

func init() {
	register(&Kind{
		Group: Group, Version: Version, Kind: "Snapshot",
		Plural: "snapshots", Singular: "snapshot", ShortNames: []string{"snap"},
		Namespaced: true, HasStatus: true, ImmutableSpec: true,
		New: func() Object { return &Snapshot{} },
		Columns: []Column{
			{Name: "Application", Type: "string", Value: func(o Object) string { return o.(*Snapshot).Spec.Application }},
			{Name: "Components", Type: "integer", Value: func(o Object) string { return strconv.Itoa(len(o.(*Snapshot).Spec.Components)) }},
			{Name: "Type", Type: "string", Value: func(o Object) string { return o.(*Snapshot).Labels[LabelSnapshotType] }},
			{Name: "Tests", Type: "string", Value: func(o Object) string {
				return reasonOr(o.(*Snapshot).Status.Conditions, ConditionTestsPassed, "Pending")
			}},
			{Name: "Sequence", Type: "integer", Priority: 1, Value: func(o Object) string { return o.(*Snapshot).Labels[LabelSequence] }},
		},
		Fields: func(o Object) map[string]string {
			return map[string]string{"spec.application": o.(*Snapshot).Spec.Application}
		},
		Refs: func(o Object) []Ref {
			s := o.(*Snapshot)
			return []Ref{{Kind: "Application", Namespace: s.Namespace, Name: s.Spec.Application,
				Path: field.NewPath("spec", "application"), Owner: true}}
		},
	})
}
