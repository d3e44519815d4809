package worker

import (
	"testing"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/pipeline"
	"github.com/kilnbuild/kiln/internal/remote"
)

// References into the server's registry name the address the worker
// reaches it at; other registries are left alone.
func TestLocalReferences(t *testing.T) {
	t.Parallel()
	w := &Worker{host: "10.200.1.1:7070"}
	task := &remote.Task{Registry: "127.0.0.1:7070",
		Plan: &pipeline.Plan{
			Tasks:   []*pipeline.PlanTask{{Steps: []*pipeline.PlanStep{{Image: "127.0.0.1:7070/team/tools@sha256:1"}, {Image: "docker.io/library/busybox@sha256:2"}, {Image: "host"}}}},
			Outputs: []pipeline.Output{{Kind: "image", Image: &pipeline.ImageConfig{Base: "127.0.0.1:7070/team/base@sha256:3"}}},
		},
		Inputs: []v1alpha1.BuildInput{{Component: "lib", Repository: "127.0.0.1:7070/team/lib", Digest: "sha256:4"}},
	}
	plan := w.localPlan(task)
	steps := plan.Tasks[0].Steps
	if steps[0].Image != "10.200.1.1:7070/team/tools@sha256:1" || steps[1].Image != "docker.io/library/busybox@sha256:2" || steps[2].Image != "host" {
		t.Fatalf("step images %s %s %s", steps[0].Image, steps[1].Image, steps[2].Image)
	}
	if plan.Outputs[0].Image.Base != "10.200.1.1:7070/team/base@sha256:3" {
		t.Fatalf("base image %s", plan.Outputs[0].Image.Base)
	}
	if in := w.localInputs(task); in[0].Repository != "10.200.1.1:7070/team/lib" {
		t.Fatalf("inputs %+v", in)
	}
	if got := w.local(task, "127.0.0.1:70700/x/y"); got != "127.0.0.1:70700/x/y" {
		t.Fatalf("a look-alike registry was rewritten: %s", got)
	}
}
