package release

import (
	"os"
	"strings"
	"testing"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/policy"
	"github.com/kilnbuild/kiln/internal/publish"
)

// TestExamplePolicyAndAdmissionWork compiles the example Policy (shipped
// rules + an inline rule) and resolves the example admission's mapping,
// so the examples are not only valid YAML but usable as they are.
func TestExamplePolicyAndAdmissionWork(t *testing.T) {
	pol := decodeExample(t, "../../examples/managed/policy.yaml").(*v1alpha1.Policy)
	eng, err := policy.Compile(t.Context(), pol.Spec, nil)
	if err != nil {
		t.Fatalf("example policy: %v", err)
	}
	var custom bool
	for _, r := range eng.Rules() {
		custom = custom || r.Code == "custom.commit_recorded"
	}
	if !custom {
		t.Fatalf("the inline rule was not loaded: %v", eng.Rules())
	}
	rpa := decodeExample(t, "../../examples/managed/admission.yaml").(*v1alpha1.ReleasePlanAdmission)
	if name, ok := Builtin(rpa.Spec.Pipeline.PipelineRef); !ok || name != PipelinePushToRegistry {
		t.Fatalf("example admission pipeline %v", rpa.Spec.Pipeline.PipelineRef)
	}
	d, err := decodeData(rpa.Spec.Data)
	if err != nil {
		t.Fatal(err)
	}
	vars := publish.TagVars{Component: "greet-image", GitSHA: strings.Repeat("a", 40), BuildCounter: 7, Digest: "sha256:" + strings.Repeat("b", 64)}
	repo, tags, err := d.destination("greet-image", vars)
	if err != nil || repo != "quay.io/kilnbuild/greet" || strings.Join(tags, ",") != strings.Repeat("a", 40)+",build-7,latest" {
		t.Fatalf("destination: %s %v %v", repo, tags, err)
	}
	if repo, _, _ := d.destination("greet-cli", vars); repo != "quay.io/kilnbuild/greet-cli" {
		t.Fatalf("default repository: %s", repo)
	}
}

func decodeExample(t *testing.T, path string) v1alpha1.Object {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	obj, _, err := v1alpha1.Decode(b)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return obj
}
