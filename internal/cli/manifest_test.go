package cli

import (
	"fmt"
	"strings"
	"testing"

	"github.com/kilnbuild/kiln/internal/client"
)

func TestParseManifests(t *testing.T) {
	data := `---
# leading separator and comment
apiVersion: v1
kind: Namespace
metadata: {name: a}
--- # separator with a comment
apiVersion: v1
kind: List
items:
- {apiVersion: kiln.dev/v1alpha1, kind: Application, metadata: {name: x}}
- {apiVersion: kiln.dev/v1alpha1, kind: Component, metadata: {name: yy}}
---
---
{"apiVersion": "kiln.dev/v1alpha1", "kind": "Release", "metadata": {"name": "r"}}
--- 
a: b
`
	ms, errs := parseManifests("f.yaml", []byte(data))
	var got []string
	for _, m := range ms {
		got = append(got, fmt.Sprintf("%s@%s", m.describe(), m.where()))
	}
	want := []string{
		"Namespace/a@f.yaml, document 1",
		"Application/x@f.yaml, document 2, item 1",
		"Component/yy@f.yaml, document 2, item 2",
		"Release/r@f.yaml, document 3",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("manifests:\n%v\nwant:\n%v", got, want)
	}
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "f.yaml, document 4: apiVersion and kind are required") {
		t.Errorf("errs = %v", errs)
	}
}

// TestParseManifestsRejectsDuplicateKeys: a key given twice, at any depth
// and in YAML or JSON, makes the document an error with its file, index and
// key path; the CLI does not keep the last value as plain YAML would.
func TestParseManifestsRejectsDuplicateKeys(t *testing.T) {
	data := "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n# comment only\n---\n" +
		"apiVersion: kiln.dev/v1alpha1\nkind: Component\nmetadata: {name: c}\nspec:\n  build:\n    params:\n" +
		"    - {name: p, value: one, value: two}\n---\n" +
		`{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "b", "name": "c"}}` + "\n"
	ms, errs := parseManifests("f.yaml", []byte(data))
	if len(ms) != 1 || ms[0].describe() != "Namespace/a" {
		t.Fatalf("manifests %v", ms)
	}
	want := []string{
		"f.yaml, document 2: invalid document: spec.build.params[0].value: duplicate field",
		"f.yaml, document 3: invalid document: metadata.name: duplicate field",
	}
	if len(errs) != len(want) {
		t.Fatalf("errs = %v", errs)
	}
	for i, w := range want {
		if !strings.HasPrefix(errs[i].Error(), w) {
			t.Errorf("error %d: %v\nwant %s...", i, errs[i], w)
		}
	}
}

func TestSortForApply(t *testing.T) {
	kinds := []string{"Release", "Widget", "Component", "Snapshot", "Application", "ReleasePlanAdmission",
		"Secret", "IntegrationTestScenario", "RoleBinding", "ReleasePlan", "Policy", "ServiceAccount",
		"User", "Namespace", "Component"}
	var ms []manifest
	for i, k := range kinds {
		ms = append(ms, manifest{index: i, obj: client.Object{"kind": k}})
	}
	sortForApply(ms)
	var got []string
	for _, m := range ms {
		got = append(got, fmt.Sprintf("%s%d", m.obj.Kind(), m.index))
	}
	want := "[Namespace13 User12 ServiceAccount11 RoleBinding8 Secret6 Policy10 Application4 Component2 Component14 " +
		"IntegrationTestScenario7 ReleasePlan9 ReleasePlanAdmission5 Snapshot3 Release0 Widget1]"
	if fmt.Sprint(got) != want {
		t.Errorf("order:\n%v\nwant:\n%s", got, want)
	}
}

func TestUnchanged(t *testing.T) {
	live := client.Object{
		"apiVersion": "kiln.dev/v1alpha1", "kind": "Component",
		"metadata": map[string]any{"name": "web", "namespace": "a", "resourceVersion": "7", "uid": "u",
			"labels": map[string]any{"app": "shop", "added-by-server": "x"}},
		"spec": map[string]any{"application": "shop", "defaulted": "d",
			"params": []any{map[string]any{"name": "p", "value": "1", "default": true}}},
		"status": map[string]any{"phase": "Ready"},
	}
	for _, tc := range []struct {
		name    string
		desired string
		want    bool
	}{
		{"same fields", `{"apiVersion":"kiln.dev/v1alpha1","kind":"Component","metadata":{"name":"web","labels":{"app":"shop"}},"spec":{"application":"shop"}}`, true},
		{"status ignored", `{"kind":"Component","spec":{"application":"shop"},"status":{"phase":"Other"}}`, true},
		{"server metadata ignored", `{"kind":"Component","metadata":{"name":"web","resourceVersion":"1","uid":"other"}}`, true},
		{"list elements compared as subsets", `{"spec":{"params":[{"name":"p","value":"1"}]}}`, true},
		{"zero value matches absent", `{"spec":{"description":"","replicas":0,"tags":[],"extra":{}}}`, true},
		{"null matches absent", `{"spec":{"gone":null}}`, true},
		{"changed scalar", `{"spec":{"application":"store"}}`, false},
		{"new label", `{"metadata":{"labels":{"tier":"web"}}}`, false},
		{"changed label", `{"metadata":{"labels":{"app":"blog"}}}`, false},
		{"null removes an existing field", `{"spec":{"defaulted":null}}`, false},
		{"list length differs", `{"spec":{"params":[]}}`, false},
		{"list element differs", `{"spec":{"params":[{"name":"q"}]}}`, false},
		{"new top-level field", `{"data":{"k":"dg=="}}`, false},
		{"apiVersion differs", `{"apiVersion":"kiln.dev/v1beta1"}`, false},
	} {
		desired, err := client.DecodeObject([]byte(tc.desired))
		if err != nil {
			t.Fatal(err)
		}
		if got := unchanged(desired, live); got != tc.want {
			t.Errorf("%s: unchanged = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestUnchangedSecretStringData(t *testing.T) {
	live := client.Object{"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
		"metadata": map[string]any{"name": "s"}, "data": map[string]any{"token": "czNjcmV0"}}
	desired := client.Object{"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "s"},
		"stringData": map[string]any{"token": "s3cret"}}
	if !unchanged(desired, live) {
		t.Error("stringData equal to data is a change")
	}
	desired["stringData"] = map[string]any{"token": "other"}
	if unchanged(desired, live) {
		t.Error("different stringData is not a change")
	}
}
