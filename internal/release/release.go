// Package release runs Releases: validation → tenant pipeline (optional)
// → policy → managed pipeline (in the managed namespace, with its
// secrets) → final pipeline (optional), each phase recorded as a condition
// on the Release. It also creates Releases automatically for Snapshots
// that passed their tests, never for one older than a Snapshot already
// released through the same plan.
//
//	Release ─► Validating ─► Tenant ─► Policy ─► Managed ─► Final ─► Succeeded
//	               │            │         │          │         │
//	               └────────────┴─────────┴──────────┴─────────┴──► Failed
//
// The phase is stored before each step runs, so a crash resumes at the
// step it interrupted (steps are idempotent: copies skip what exists).
package release

import (
	"fmt"
	"sort"

	"github.com/kilnbuild/kiln/api/v1alpha1"
)

// MergeData merges release data: later maps win, objects merge key by
// key, anything else is replaced. Release ← ReleasePlan ← Admission: pass
// them in that order so the admission wins.
func MergeData(layers ...map[string]any) map[string]any {
	out := map[string]any{}
	for _, l := range layers {
		out = mergeMap(out, l)
	}
	return out
}

func mergeMap(dst, src map[string]any) map[string]any {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				dst[k] = mergeMap(dm, sm) // dm is already the result's own copy
				continue
			}
			dst[k] = mergeMap(map[string]any{}, sm)
			continue
		}
		dst[k] = v
	}
	return dst
}

// Inputs are the objects a Release is validated against.
type Inputs struct {
	Release    *v1alpha1.Release
	Snapshot   *v1alpha1.Snapshot
	Plan       *v1alpha1.ReleasePlan
	Target     *v1alpha1.Namespace // nil when it does not exist
	Admissions []*v1alpha1.ReleasePlanAdmission
}

// Validation is Validate's outcome.
type Validation struct {
	// Wait is set while the Snapshot's required tests have not finished.
	Wait      bool
	Reason    string
	Message   string
	Admission *v1alpha1.ReleasePlanAdmission
}

// OK reports whether the Release may proceed.
func (v Validation) OK() bool { return !v.Wait && v.Reason == "" }

// Validate checks a Release before anything runs. It is pure.
func Validate(in Inputs) Validation {
	r, s, p := in.Release, in.Snapshot, in.Plan
	switch {
	case s.Spec.Application != p.Spec.Application:
		return Validation{Reason: "ApplicationMismatch", Message: fmt.Sprintf("snapshot %s is of application %q but release plan %s releases %q", s.Name, s.Spec.Application, p.Name, p.Spec.Application)}
	case in.Target == nil:
		return Validation{Reason: "NoTarget", Message: fmt.Sprintf("release plan %s targets namespace %q, which does not exist", p.Name, p.Spec.Target)}
	case in.Target.Spec.Type != v1alpha1.NamespaceManaged:
		return Validation{Reason: "TargetNotManaged", Message: fmt.Sprintf("release plan %s targets %q, a tenant namespace: releases go to managed namespaces", p.Name, p.Spec.Target)}
	}
	rpa := matchAdmission(in.Admissions, r.Namespace, p.Spec.Application)
	if rpa == nil {
		return Validation{Reason: "NoAdmission", Message: fmt.Sprintf("no ReleasePlanAdmission in %s accepts application %q from %s: ask the release team to create one (spec.origin: %s, spec.applications: [%s])", p.Spec.Target, p.Spec.Application, r.Namespace, r.Namespace, p.Spec.Application)}
	}
	if st, reason, msg := testsState(s); st != "True" {
		if st == "Unknown" {
			return Validation{Wait: true, Reason: reason, Message: "waiting for the snapshot's tests: " + msg, Admission: rpa}
		}
		return Validation{Reason: "TestsFailed", Message: fmt.Sprintf("snapshot %s did not pass its tests: %s", s.Name, msg), Admission: rpa}
	}
	return Validation{Admission: rpa}
}

// testsState reads the Snapshot's TestsPassed condition.
func testsState(s *v1alpha1.Snapshot) (status, reason, message string) {
	for _, c := range s.Status.Conditions {
		if c.Type == v1alpha1.ConditionTestsPassed {
			return string(c.Status), c.Reason, c.Message
		}
	}
	return "Unknown", "TestsPending", "tests have not started"
}

// matchAdmission picks the admission accepting the release; several are
// ordered by name for a stable choice.
func matchAdmission(all []*v1alpha1.ReleasePlanAdmission, origin, app string) *v1alpha1.ReleasePlanAdmission {
	sorted := append([]*v1alpha1.ReleasePlanAdmission(nil), all...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	for _, a := range sorted {
		if a.Admits(origin, app) {
			return a
		}
	}
	return nil
}

// ShouldAutoRelease decides whether a Snapshot that passed its tests is
// released automatically through plan: push and group Snapshots only,
// and never one older than a Snapshot already released (or being
// released) through the plan. It returns why not when it is not.
func ShouldAutoRelease(s *v1alpha1.Snapshot, plan *v1alpha1.ReleasePlan, releasedSequences []int64) (bool, string) {
	switch {
	case !plan.AutoRelease():
		return false, "the plan does not auto-release"
	case plan.Spec.Application != s.Spec.Application:
		return false, "another application"
	case s.Labels[v1alpha1.LabelEventType] == v1alpha1.EventPullRequest:
		return false, "pull-request snapshots are not released"
	case s.Labels[v1alpha1.LabelSnapshotType] == v1alpha1.SnapshotTypeOverride:
		return false, "override snapshots are released by hand"
	case s.Sequence() == 0:
		return false, "the snapshot has no sequence number yet"
	}
	st, _, _ := testsState(s)
	if st != "True" {
		return false, "tests have not passed"
	}
	for _, n := range releasedSequences {
		if n >= s.Sequence() {
			return false, fmt.Sprintf("a snapshot as new or newer (sequence %d ≥ %d) was already released through %s", n, s.Sequence(), plan.Name)
		}
	}
	return true, ""
}

// AutoName is the deterministic name of an automatic Release.
func AutoName(snapshot, plan string) string {
	return v1alpha1.FitName(snapshot + "-" + plan)
}
