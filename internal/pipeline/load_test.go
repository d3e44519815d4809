package pipeline

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestLoadFromRepo(t *testing.T) {
	t.Parallel()
	cases := []struct {
		repo, name, kind, run string
		files                 []string
	}{
		{"kiln", "from-kiln", "kiln", "", []string{".kiln/pipeline.yaml"}},
		{"tekton-split", "split", "tekton", "", []string{".tekton/pipeline.yaml", ".tekton/task-build.yaml", ".tekton/task-test.yml"}},
		{"tekton-pac", "greet-on-push", "tekton", "greet-on-push", []string{".tekton/greet-pull-request.yaml", ".tekton/greet-push.yaml", ".tekton/task-say.yaml"}},
		{"tekton-cel", "cel-push", "tekton", "cel-push", []string{".tekton/pr.yaml", ".tekton/push.yaml", ".tekton/task-say.yaml"}},
	}
	for _, c := range cases {
		t.Run(c.repo, func(t *testing.T) {
			t.Parallel()
			p, src, err := LoadFromRepo("testdata/repos/" + c.repo)
			if err != nil {
				t.Fatal(err)
			}
			if p.Name != c.name || src.Kind != c.kind || src.PipelineRun != c.run || !slices.Equal(src.Files, c.files) {
				t.Errorf("got %s from %+v", p.Name, src)
			}
			if _, err := Compile(p, nil, Context{}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestLoadFromRepoErrors(t *testing.T) {
	t.Parallel()
	_, _, err := LoadFromRepo("testdata/repos/empty")
	if !errors.Is(err, ErrNoPipeline) || !strings.Contains(err.Error(), "add .kiln/pipeline.yaml or .tekton/*.yaml") {
		t.Errorf("empty repo: %v", err)
	}
	_, _, err = LoadFromRepo("testdata/repos/tekton-ambiguous")
	want := `several PipelineRuns run on push: PipelineRun "run-a" (.tekton/a.yaml), PipelineRun "run-b" (.tekton/b.yaml); choose one with -f`
	if err == nil || err.Error() != want {
		t.Errorf("ambiguous: %v", err)
	}
}

// TestLoadedPipelineRuns runs the .tekton pipelines with the fake runner:
// the split Task files and the push PipelineRun's params take effect.
func TestLoadedPipelineRuns(t *testing.T) {
	t.Parallel()
	p, _, err := LoadFromRepo("testdata/repos/tekton-pac")
	if err != nil {
		t.Fatal(err)
	}
	plan, err := Compile(p, nil, Context{})
	if err != nil {
		t.Fatal(err)
	}
	if got := plan.Task("say").Steps[0].Script; got != "echo greet-on-push" {
		t.Errorf("script %q", got)
	}
	b := run(t, context.Background(), mustRead(t, "testdata/repos/tekton-split/.tekton/pipeline.yaml")+"---\n"+
		mustRead(t, "testdata/repos/tekton-split/.tekton/task-build.yaml")+"---\n"+
		mustRead(t, "testdata/repos/tekton-split/.tekton/task-test.yml"), RunOptions{})
	if err := b.res.Err(); err != nil || !strings.Contains(b.log.String(), "[test/test] testing app\n") {
		t.Errorf("%v\n%s", err, b.log)
	}
}

func TestOnPush(t *testing.T) {
	t.Parallel()
	cases := map[string]bool{
		`[push]`: true, `push`: true, `[pull_request, push]`: true, `["push"]`: true,
		`[pull_request]`: false, `[pushed]`: false, ``: false,
	}
	for v, want := range cases {
		if got := onPush(map[string]string{AnnotationOnEvent: v}); got != want {
			t.Errorf("on-event %q: %v", v, got)
		}
	}
	if !onPush(map[string]string{AnnotationOnCEL: `event == 'push' && target_branch == "main"`}) {
		t.Error("CEL push not recognised")
	}
	if onPush(map[string]string{AnnotationOnCEL: `event == "pull_request"`}) {
		t.Error("CEL pull_request taken for push")
	}
}
