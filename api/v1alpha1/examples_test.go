package v1alpha1

import (
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// TestExamples decodes and admits every file under examples/, then checks
// that the tenant and managed examples fit together: every reference
// resolves within the examples and the admission accepts the plan.
func TestExamples(t *testing.T) {
	t.Parallel()
	var all []Object
	err := filepath.WalkDir("../../examples", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !isManifest(path) {
			return err
		}
		all = append(all, admitFile(t, path)...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) < 15 {
		t.Fatalf("found %d objects under examples/, want the tenant and managed examples", len(all))
	}
	checkRefsResolve(t, all)
	checkAdmissionMatches(t, all)
}

func isManifest(path string) bool {
	ext := filepath.Ext(path)
	return ext == ".yaml" || ext == ".yml" || ext == ".json"
}

func checkRefsResolve(t *testing.T, objs []Object) {
	t.Helper()
	have := map[string]bool{}
	for _, o := range objs {
		k, _ := KindOf(o)
		have[k.Kind+"/"+o.GetNamespace()+"/"+o.GetName()] = true
	}
	for _, o := range objs {
		k, _ := KindOf(o)
		if k.Namespaced && !have["Namespace//"+o.GetNamespace()] {
			t.Errorf("%s %s/%s: its namespace is not in examples", k.Kind, o.GetNamespace(), o.GetName())
		}
		if k.Refs == nil {
			continue
		}
		for _, r := range k.Refs(o) {
			if !have[r.Kind+"/"+r.Namespace+"/"+r.Name] {
				t.Errorf("%s %s: %s refers to missing %s %s/%s", k.Kind, o.GetName(), r.Path, r.Kind, r.Namespace, r.Name)
			}
		}
	}
}

func checkAdmissionMatches(t *testing.T, objs []Object) {
	t.Helper()
	var plans []*ReleasePlan
	var admissions []*ReleasePlanAdmission
	for _, o := range objs {
		switch x := o.(type) {
		case *ReleasePlan:
			plans = append(plans, x)
		case *ReleasePlanAdmission:
			admissions = append(admissions, x)
		}
	}
	if len(plans) == 0 {
		t.Fatal("no ReleasePlan in examples")
	}
	for _, p := range plans {
		if !anyAdmits(admissions, p) {
			t.Errorf("ReleasePlan %s/%s: no ReleasePlanAdmission in %s accepts application %s", p.Namespace, p.Name, p.Spec.Target, p.Spec.Application)
		}
	}
}

func anyAdmits(admissions []*ReleasePlanAdmission, p *ReleasePlan) bool {
	for _, a := range admissions {
		if a.Namespace == p.Spec.Target && a.Admits(p.Namespace, p.Spec.Application) {
			return true
		}
	}
	return false
}

// TestExamplesApplyOrder checks the examples, sorted for apply, create each
// referenced object before its referrer.
func TestExamplesApplyOrder(t *testing.T) {
	t.Parallel()
	var objs []Object
	for _, dir := range []string{"managed", "tenant"} {
		files, _ := filepath.Glob(filepath.Join("../../examples", dir, "*.yaml"))
		for _, f := range files {
			objs = append(objs, admitFile(t, f)...)
		}
	}
	SortForApply(objs)
	seen := map[string]bool{}
	for _, o := range objs {
		k, _ := KindOf(o)
		if k.Refs != nil {
			for _, r := range k.Refs(o) {
				if !seen[r.Kind+"/"+r.Name] {
					t.Errorf("%s %s applied before the %s %s it refers to", k.Kind, o.GetName(), r.Kind, r.Name)
				}
			}
		}
		seen[k.Kind+"/"+o.GetName()] = true
	}
	if first, _ := KindOf(objs[0]); !strings.EqualFold(first.Kind, "Namespace") {
		t.Errorf("first object applied is a %s, want a Namespace", first.Kind)
	}
}
