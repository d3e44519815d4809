package server

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kilnbuild/kiln/api/v1alpha1"
)

const testImage = "registry.example.com/team-a/cli@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func userSnapshot(name string, labels map[string]string) map[string]any {
	return map[string]any{"metadata": map[string]any{"name": name, "labels": labels},
		"spec": map[string]any{"application": "greet", "components": []any{map[string]any{"name": "cli", "containerImage": testImage}}}}
}

// rejectsKey asserts a 422 whose message names key.
func rejectsKey(t *testing.T, r resp, what, key string) {
	t.Helper()
	if r.Code != http.StatusUnprocessableEntity || !strings.Contains(string(r.Body), key) {
		t.Errorf("%s: got %d %s; want 422 naming %s", what, r.Code, r.Body, key)
	}
}

// TestSystemLabelsAreSetOnlyByKiln: a user cannot give an object a label
// or annotation Kiln acts on — not by create, update, merge, JSON or
// strategic patch, on no kind — except the values that only restrict
// what Kiln does (an override Snapshot, a pull request's build).
func TestSystemLabelsAreSetOnlyByKiln(t *testing.T) {
	t.Parallel()
	_, _, alice, _ := tenants(t)
	populate(t, alice, "team-a")
	snaps := nsPath("team-a", "snapshots")

	// The attack: a Snapshot numbered ahead of every other one.
	rejectsKey(t, alice.do("POST", snaps, userSnapshot("ahead", map[string]string{v1alpha1.LabelSequence: "999999"})), "create with a sequence", v1alpha1.LabelSequence)
	for key, v := range map[string]string{v1alpha1.LabelSnapshotType: "component", v1alpha1.LabelEventType: "push",
		v1alpha1.LabelBuild: "cli-1", v1alpha1.LabelComponent: "cli", v1alpha1.LabelBuildGroup: "g"} {
		rejectsKey(t, alice.do("POST", snaps, userSnapshot("forged", map[string]string{key: v})), "create with "+key, key)
	}
	for _, key := range v1alpha1.SystemAnnotations() {
		body := userSnapshot("forged", nil)
		body["metadata"].(map[string]any)["annotations"] = map[string]string{key: "x"}
		rejectsKey(t, alice.do("POST", snaps, body), "create with annotation "+key, key)
	}
	// Konflux's override Snapshot, with a label Kiln does not act on.
	alice.must(201, "POST", snaps, userSnapshot("mine", map[string]string{v1alpha1.LabelSnapshotType: v1alpha1.SnapshotTypeOverride, "appstudio.openshift.io/component": "cli"}))
	var seq string
	eventually(t, "Kiln numbers the user's Snapshot", func() bool {
		seq = str(alice.must(200, "GET", snaps+"/mine", nil).Obj, "metadata", "labels", v1alpha1.LabelSequence)
		return seq != ""
	})
	checkSystemLabelWrites(t, alice, snaps+"/mine", seq)
	checkEveryKind(t, alice)
	checkBuildAndReleaseLabels(t, alice)
}

// checkSystemLabelWrites tries every write verb on a system label Kiln set.
func checkSystemLabelWrites(t *testing.T, a api, path, seq string) {
	t.Helper()
	key := v1alpha1.LabelSequence
	escaped := strings.ReplaceAll(key, "/", "~1")
	merge := []string{"Content-Type", "application/merge-patch+json"}
	labels := func(v any) map[string]any {
		return map[string]any{"metadata": map[string]any{"labels": map[string]any{key: v}}}
	}
	rejectsKey(t, a.do("PATCH", path, labels("999999"), merge...), "merge patch", key)
	rejectsKey(t, a.do("PATCH", path, labels(nil), merge...), "merge patch removing", key)
	rejectsKey(t, a.do("PATCH", path, labels("999999"), "Content-Type", "application/strategic-merge-patch+json"), "strategic merge patch", key)
	rejectsKey(t, a.do("PATCH", path, []any{map[string]any{"op": "replace", "path": "/metadata/labels/" + escaped, "value": "999999"}},
		"Content-Type", "application/json-patch+json"), "JSON patch", key)
	rejectsKey(t, a.do("PATCH", path, []any{map[string]any{"op": "remove", "path": "/metadata/labels/" + escaped}},
		"Content-Type", "application/json-patch+json"), "JSON patch removing", key)
	obj := a.must(200, "GET", path, nil).Obj
	obj["metadata"].(map[string]any)["labels"].(map[string]any)[key] = "999999"
	rejectsKey(t, a.do("PUT", path, obj), "update", key)
	// Labels Kiln does not act on stay the user's; Kiln's stay as they were.
	a.must(200, "PATCH", path, map[string]any{"metadata": map[string]any{"labels": map[string]any{v1alpha1.LabelPinned: "true"}}}, merge...)
	obj = a.must(200, "GET", path, nil).Obj
	obj["metadata"].(map[string]any)["labels"].(map[string]any)["team"] = "web"
	got := a.must(200, "PUT", path, obj).Obj
	if str(got, "metadata", "labels", key) != seq || str(got, "metadata", "labels", "team") != "web" || str(got, "metadata", "labels", v1alpha1.LabelPinned) != "true" {
		t.Errorf("after the user's own label changes: labels %v", got["metadata"].(map[string]any)["labels"])
	}
}

// checkEveryKind adds each system label and annotation to one object of
// every kind the user can write, by merge patch: all refused.
func checkEveryKind(t *testing.T, a api) {
	t.Helper()
	merge := []string{"Content-Type", "application/merge-patch+json"}
	checked := map[string]bool{}
	for _, r := range served(t, a) {
		coll := r.prefix + "/" + r.plural
		if r.namespaced {
			coll = r.prefix + "/namespaces/team-a/" + r.plural
		} else if r.plural != "namespaces" {
			continue
		}
		var list struct {
			Items []struct {
				Metadata struct{ Name string } `json:"metadata"`
			} `json:"items"`
		}
		res := a.do("GET", coll, nil)
		if res.Code != http.StatusOK || json.Unmarshal(res.Body, &list) != nil {
			continue
		}
		for _, item := range list.Items {
			if r.plural == "namespaces" && item.Metadata.Name != "team-a" {
				continue
			}
			path := coll + "/" + item.Metadata.Name
			if a.do("PATCH", path, map[string]any{"metadata": map[string]any{"labels": map[string]any{"probe": "1"}}}, merge...).Code != http.StatusOK {
				continue // not writable by the user (e.g. RoleBindings Kiln made)
			}
			for _, key := range v1alpha1.SystemLabels() {
				rejectsKey(t, a.do("PATCH", path, map[string]any{"metadata": map[string]any{"labels": map[string]any{key: "x"}}}, merge...), r.plural+" label", key)
			}
			for _, key := range v1alpha1.SystemAnnotations() {
				rejectsKey(t, a.do("PATCH", path, map[string]any{"metadata": map[string]any{"annotations": map[string]any{key: "x"}}}, merge...), r.plural+" annotation", key)
			}
			checked[r.plural] = true
			break
		}
	}
	for _, want := range []string{"namespaces", "applications", "components", "snapshots", "integrationtestscenarios", "releaseplans", "secrets", "serviceaccounts"} {
		if !checked[want] {
			t.Errorf("no %s was checked (checked %v)", want, checked)
		}
	}
}

// checkBuildAndReleaseLabels: a pull request's labels may be given to a
// new Build (kiln build --pull-request), nothing else Kiln sets; a
// Release's author is who created it, whatever the request said.
func checkBuildAndReleaseLabels(t *testing.T, a api) {
	t.Helper()
	builds := nsPath("team-a", "builds")
	build := func(name string, labels map[string]string, reason string) map[string]any {
		return map[string]any{"metadata": map[string]any{"name": name, "labels": labels},
			"spec": map[string]any{"component": "cli", "revision": strings.Repeat("a", 40), "reason": map[string]any{"type": reason}}}
	}
	pr := map[string]string{v1alpha1.LabelEventType: v1alpha1.EventPullRequest, v1alpha1.LabelPullRequest: "7"}
	a.must(201, "POST", builds, build("cli-pr7", pr, v1alpha1.ReasonPullRequest))
	rejectsKey(t, a.do("PATCH", builds+"/cli-pr7", map[string]any{"metadata": map[string]any{"labels": map[string]any{v1alpha1.LabelEventType: nil, v1alpha1.LabelPullRequest: nil}}},
		"Content-Type", "application/merge-patch+json"), "a pull request build made a branch build", v1alpha1.LabelEventType)
	for key, v := range map[string]string{v1alpha1.LabelEventType: v1alpha1.EventPush, v1alpha1.LabelComponent: "cli", v1alpha1.LabelGroup: "g", v1alpha1.LabelApplication: "greet"} {
		rejectsKey(t, a.do("POST", builds, build("cli-x", map[string]string{key: v}, v1alpha1.ReasonManual)), "build with "+key, key)
	}
	rels := nsPath("team-a", "releases")
	rel := func(name string, labels map[string]string) map[string]any {
		return map[string]any{"metadata": map[string]any{"name": name, "labels": labels}, "spec": map[string]any{"snapshot": "mine", "releasePlan": "to-prod"}}
	}
	rejectsKey(t, a.do("POST", rels, rel("forged", map[string]string{v1alpha1.LabelAutomated: "true"})), "release marked automated", v1alpha1.LabelAutomated)
	rejectsKey(t, a.do("POST", rels, rel("forged", map[string]string{v1alpha1.LabelAuthor: "bob"})), "release with an author", v1alpha1.LabelAuthor)
	got := a.must(201, "POST", rels, rel("by-alice", nil)).Obj
	if author := str(got, "metadata", "labels", v1alpha1.LabelAuthor); author != "alice" {
		t.Errorf("release author %q, want alice", author)
	}
	rejectsKey(t, a.do("PATCH", rels+"/by-alice", map[string]any{"metadata": map[string]any{"labels": map[string]any{v1alpha1.LabelAuthor: "bob"}}},
		"Content-Type", "application/merge-patch+json"), "release author changed", v1alpha1.LabelAuthor)
}

const konfluxOverride = `apiVersion: appstudio.redhat.com/v1alpha1
kind: Application
metadata:
  name: greet
---
apiVersion: appstudio.redhat.com/v1alpha1
kind: Snapshot
metadata:
  name: snapshot-sample
  labels:
    test.appstudio.openshift.io/type: override
    appstudio.openshift.io/application: greet
spec:
  application: greet
  components:
    - name: component-sample
      containerImage: quay.io/redhat-user-workloads/ws/greet/component-sample@sha256:0db0a473a6abf5c15c424ab07cfbd5c40c06622fe648d4fe6a6b6abc224a0d0c
      source:
        git:
          url: https://github.com/sample-org/sample-repo
          revision: fa8b89274a61ef0f1c257b7a84c37aa2ec844109
`

// TestApplyKeepsKilnsSystemLabels: Konflux's override Snapshot applies
// unchanged with kiln apply, and re-applies after Kiln numbered it; the
// same with kubectl (in Kiln's group); kubectl label cannot change the
// number Kiln gave it, nor can a forged one be applied.
func TestApplyKeepsKilnsSystemLabels(t *testing.T) {
	t.Parallel()
	f, kubectl := kubectlEnv(t)
	kiln := kilnCLI(t, f)
	dir := t.TempDir()
	konflux, native, forged := filepath.Join(dir, "konflux.yaml"), filepath.Join(dir, "native.yaml"), filepath.Join(dir, "forged.yaml")
	_ = os.WriteFile(konflux, []byte(konfluxOverride), 0o644)
	_ = os.WriteFile(native, []byte(strings.ReplaceAll(strings.ReplaceAll(konfluxOverride, "appstudio.redhat.com", "kiln.dev"), "snapshot-sample", "native")), 0o644)
	_ = os.WriteFile(forged, []byte(strings.Replace(strings.ReplaceAll(strings.ReplaceAll(konfluxOverride, "appstudio.redhat.com", "kiln.dev"), "snapshot-sample", "forged"),
		"type: override", "type: override\n    kiln.dev/sequence: \"999999\"", 1)), 0o644)
	mustKubectl(t, kubectl, "create", "namespace", "team-k")
	for i := range 2 { // the second time, after Kiln numbered them
		if out, err := kiln("apply", "-n", "team-k", "-f", konflux); err != nil {
			t.Fatalf("kiln apply of Konflux YAML (%d): %v\n%s", i, err, out)
		}
		mustKubectl(t, kubectl, "apply", "-n", "team-k", "-f", native)
		for _, name := range []string{"snapshot-sample", "native"} {
			eventually(t, "Kiln numbers "+name, func() bool {
				seq, _ := kubectl("get", "snapshot", name, "-n", "team-k", "-o", "jsonpath={.metadata.labels.kiln\\.dev/sequence}")
				return strings.TrimSpace(seq) != ""
			})
		}
	}
	if out, err := kubectl("label", "--overwrite", "snapshot", "native", "-n", "team-k", v1alpha1.LabelSequence+"=999999"); err == nil || !strings.Contains(out, v1alpha1.LabelSequence) {
		t.Fatalf("kubectl label of the sequence: %v\n%s", err, out)
	}
	if out, err := kubectl("apply", "-n", "team-k", "-f", forged); err == nil || !strings.Contains(out, v1alpha1.LabelSequence) {
		t.Fatalf("kubectl apply of a forged sequence: %v\n%s", err, out)
	}
}
