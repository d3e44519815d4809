package executor

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/buildroot"
	"github.com/kilnbuild/kiln/internal/pipeline"
	"github.com/kilnbuild/kiln/internal/pipelinerun"
	"github.com/kilnbuild/kiln/internal/sandbox"
)

// fakeSandbox "installs" nothing when composing and runs the build step
// with step.
type fakeSandbox struct {
	step func(s sandbox.Step) (sandbox.Result, error)
}

func (f *fakeSandbox) Name() string { return "fake" }

func (f *fakeSandbox) Run(_ context.Context, s sandbox.Step) (sandbox.Result, error) {
	if len(s.Command) > 0 && s.Command[0] == "fakeroot" {
		return sandbox.Result{}, nil
	}
	return f.step(s)
}

// A build holds its composed buildroot while its steps run and releases it
// once they end, however they end: in a cache bounded to one byte, the
// buildroot is there during the step and evicted after.
func TestBuildrootHeldWhileTheStepsRun(t *testing.T) {
	for name, end := range map[string]func(cancel func()) (sandbox.Result, error){
		"succeeded": func(func()) (sandbox.Result, error) { return sandbox.Result{}, nil },
		"failed":    func(func()) (sandbox.Result, error) { return sandbox.Result{ExitCode: 2}, nil },
		"cancelled": func(cancel func()) (sandbox.Result, error) { cancel(); return sandbox.Result{}, context.Canceled },
		"errored":   func(func()) (sandbox.Result, error) { return sandbox.Result{}, errors.New("the sandbox broke") },
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			ran := false
			sb := &fakeSandbox{step: func(s sandbox.Step) (sandbox.Result, error) {
				if _, err := os.Stat(filepath.Join(s.RootFS, "etc", "os-release")); err != nil {
					t.Errorf("the step's buildroot is gone while it runs: %v", err)
				}
				ran = true
				return end(cancel)
			}}
			e, br, dir := buildrootExecutor(t, sb)
			log := &bytes.Buffer{}
			job := Job{Build: &v1alpha1.Build{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "b-1"}}, Log: log,
				Progress: func([]v1alpha1.BuildStep) {}}
			_, _, _, _ = e.runSteps(ctx, job, buildrootPlan(), t.TempDir(), t.TempDir(), Outcome{Buildroot: br}, newTimings())
			if !ran {
				t.Fatalf("the step did not run:\n%s", log)
			}
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("the buildroot was not released after the steps (%v):\n%s", err, log)
			}
		})
	}
}

func buildrootExecutor(t *testing.T, sb sandbox.Runner) (*Executor, *Buildroot, string) {
	t.Helper()
	base := t.TempDir()
	if err := os.MkdirAll(filepath.Join(base, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(base, "etc", "os-release"), []byte("ID=debian\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cache := &buildroot.Cache{Dir: t.TempDir(), Runner: sb, MaxBytes: 1}
	e := &Executor{Runs: &pipelinerun.Runner{Sandbox: sb, WorkDir: t.TempDir()}, Buildroots: cache}
	br := &Buildroot{Key: buildroot.Key("sha256:base", nil), baseDigest: "sha256:base", baseRoot: base}
	return e, br, filepath.Join(cache.Dir, "team", strings.Replace(br.Key, ":", "-", 1))
}

func buildrootPlan() *pipeline.Plan {
	return &pipeline.Plan{Pipeline: "debian", Tasks: []*pipeline.PlanTask{{Name: "build",
		Steps: []*pipeline.PlanStep{{Name: "package", Image: pipeline.BuildrootImage, Command: []string{"dpkg-buildpackage"}}}}}}
}
