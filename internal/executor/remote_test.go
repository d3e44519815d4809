package executor

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/pipeline"
	"github.com/kilnbuild/kiln/internal/pipelinerun"
)

func remoteJob() Job {
	return Job{Build: &v1alpha1.Build{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "lib-1"},
		Status: v1alpha1.BuildStatus{BuildNumber: 3}},
		Component: &v1alpha1.Component{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "lib"}}}
}

// A worker's outputs are taken only inside the build's repository, the
// primary one in the repository itself, named on this server, with this
// server's tags.
func TestAcceptOutputsKeepsTheBuildsRepository(t *testing.T) {
	t.Parallel()
	e := &Executor{Runs: &pipelinerun.Runner{Registry: "kiln.example:7070"}}
	d := "sha256:" + strings.Repeat("a", 64)
	out, err := e.acceptOutputs(remoteJob(), []v1alpha1.BuildArtifact{
		{Repository: "10.0.0.1:7070/team/lib", Digest: d, Tags: []string{"latest"}},
		{Repository: "10.0.0.1:7070/team/lib/docs", Digest: d},
	}, Outcome{Commit: "abc"})
	if err != nil {
		t.Fatal(err)
	}
	if out.Artifact.Repository != "kiln.example:7070/team/lib" || out.Outputs[1].Repository != "kiln.example:7070/team/lib/docs" ||
		strings.Join(out.Artifact.Tags, ",") != "abc,build-3" {
		t.Fatalf("outputs %+v", out.Outputs)
	}
	for _, bad := range [][]v1alpha1.BuildArtifact{
		{{Repository: "h/team/libx", Digest: d}},
		{{Repository: "h/other/lib", Digest: d}},
		{{Repository: "h/team/lib/docs", Digest: d}}, // the primary output is the component's
		{{Repository: "h/team/lib", Digest: d}, {Repository: "h/team/other", Digest: d}},
		{{Repository: "h/team/lib", Digest: "latest"}},
	} {
		if _, err := e.acceptOutputs(remoteJob(), bad, Outcome{}); err == nil {
			t.Errorf("accepted %+v", bad)
		}
	}
}

// The steps recorded are the plan's, with the images the server handed
// out, whatever the worker wrote; steps not in the plan are dropped.
func TestHandedOutStepsAreTheServers(t *testing.T) {
	t.Parallel()
	plan := &pipeline.Plan{Tasks: []*pipeline.PlanTask{{Name: "build", Steps: []*pipeline.PlanStep{{Name: "make", Image: "reg/tools:1"}}}}}
	got := handedOut([]v1alpha1.BuildStep{
		{Task: "build", Name: "make", Image: "evil/image", ImageDigest: "sha256:bad", Phase: "Succeeded"},
		{Task: "build", Name: "invented", Image: "x", Phase: "Succeeded"},
	}, plan, map[string]string{"reg/tools:1": "sha256:good"})
	if len(got) != 1 || got[0].Image != "reg/tools:1" || got[0].ImageDigest != "sha256:good" || got[0].Phase != "Succeeded" {
		t.Fatalf("steps %+v", got)
	}
}

func TestPinnedRef(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"busybox":                    "busybox@sha256:1",
		"busybox:1.36":               "busybox@sha256:1",
		"reg:5000/ns/tools:v1":       "reg:5000/ns/tools@sha256:1",
		"reg:5000/ns/tools":          "reg:5000/ns/tools@sha256:1",
		"reg:5000/ns/tools@sha256:0": "reg:5000/ns/tools@sha256:1",
	} {
		if got := pinnedRef(in, "sha256:1"); got != want {
			t.Errorf("pinnedRef(%s) = %s, want %s", in, got, want)
		}
	}
}
