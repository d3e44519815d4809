package demo

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/publish"
	"github.com/kilnbuild/kiln/internal/registry"
	"github.com/kilnbuild/kiln/internal/server"
)

// TestDemoBuildsTestsAndReleases runs what `kiln up --demo` runs: three
// real repositories (make, go, repository pipeline) built in the sandbox,
// their snapshots tested by the smoke scenario from a fourth repository,
// and the newest one released through the policy into a static
// repository.
func TestDemoBuildsTestsAndReleases(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("bwrap"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("bubblewrap is required")
		}
		t.Skip("bubblewrap not installed")
	}
	dir := t.TempDir()
	f, err := server.Start(context.Background(), server.Config{DataDir: filepath.Join(dir, "data"), Listen: "127.0.0.1:0",
		AllowFileSources: true, RegistryNoSync: true, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Stop() })
	apply(t, f.Registry, filepath.Join(dir, "repos"))
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	var out strings.Builder
	o, err := Follow(ctx, f.Registry, Namespace, len(Repos), filepath.Join(dir, "data", "repos"), &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	t.Logf("demo output:\n%s", out.String())
	checkBuilt(t, f.Registry, out.String())
	checkTested(t, f.Registry, out.String())
	checkReleased(t, f.Registry, o, filepath.Join(dir, "data", "repos", ManagedNamespace, Application))
	checkTraced(t, f, filepath.Join(dir, "data"), o)
}

// apply creates the repositories and the manifest's objects in order.
func apply(t *testing.T, reg *registry.Registry, repos string) {
	t.Helper()
	urls, err := CreateRepos(t.Context(), repos)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := v1alpha1.DecodeAll(strings.NewReader(Manifest(urls)))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		k, _ := v1alpha1.KindOf(o)
		if _, err := reg.Create(t.Context(), k, o, registry.CreateOptions{}); err != nil {
			t.Fatalf("creating %s %s: %v", k.Kind, o.GetName(), err)
		}
	}
}

func listAll[T v1alpha1.Object](t *testing.T, reg *registry.Registry, kind string) []T {
	t.Helper()
	items, err := list[T](t.Context(), reg, kind, Namespace)
	if err != nil {
		t.Fatal(err)
	}
	return items
}

func checkBuilt(t *testing.T, reg *registry.Registry, out string) {
	t.Helper()
	built := map[string]bool{}
	for _, b := range listAll[*v1alpha1.Build](t, reg, "Build") {
		if b.Status.Phase == v1alpha1.BuildSucceeded && b.Status.Artifact != nil {
			built[b.Spec.Component] = true
		}
	}
	for _, r := range Repos {
		if !built[r.Name] {
			t.Errorf("component %s has no succeeded build", r.Name)
		}
	}
	if strings.Count(out, " Succeeded ") < len(Repos) {
		t.Errorf("the output does not show every build succeeding:\n%s", out)
	}
}

// checkTested: a snapshot with every component passed smoke, each check
// counted (libgreet: files and linking, greet-cli runs, greet-docs pages).
func checkTested(t *testing.T, reg *registry.Registry, out string) {
	t.Helper()
	for _, s := range listAll[*v1alpha1.Snapshot](t, reg, "Snapshot") {
		for _, x := range s.Status.Tests {
			if x.Scenario == Scenario && x.Result == v1alpha1.ResultSuccess && len(s.Spec.Components) == len(Repos) {
				if x.Successes != 4 || x.Failures != 0 {
					t.Errorf("snapshot %s: smoke counted %d successes, %d failures; want 4 and 0", s.Name, x.Successes, x.Failures)
				}
				if !strings.Contains(out, "smoke SUCCESS (4 checks passed)") {
					t.Errorf("the output does not show the full snapshot's test:\n%s", out)
				}
				return
			}
		}
	}
	t.Fatalf("no snapshot with all %d components passed %s:\n%s", len(Repos), Scenario, out)
}

// checkReleased: the newest snapshot's release succeeded through the
// policy, and the static repository has every component's files; the
// published greet-cli runs.
func checkReleased(t *testing.T, reg *registry.Registry, o Outcome, static string) {
	t.Helper()
	var rel *v1alpha1.Release
	for _, r := range listAll[*v1alpha1.Release](t, reg, "Release") {
		if r.Name == o.Release {
			rel = r
		}
	}
	if rel == nil || !o.Released || rel.Status.Phase != v1alpha1.ReleaseSucceeded {
		t.Fatalf("outcome %+v; release: %+v", o, rel)
	}
	if v := rel.Status.Policy; v == nil || !v.Passed || v.Violations != 0 || !rel.Status.Attribution.Automated {
		t.Fatalf("release %s: policy %+v, attribution %+v", rel.Name, v, rel.Status.Attribution)
	}
	if o.StaticDir != static {
		t.Errorf("published to %q, want %q", o.StaticDir, static)
	}
	for _, f := range []string{"libgreet/out/lib/libgreet.so.1", "libgreet/out/include/greet.h", "greet-cli/greet-cli", "greet-docs/index.html",
		"greet-docs/usage.html", "libgreet/" + publish.SumsFile, "greet-cli/" + publish.IndexFile, "greet-docs/" + publish.IndexFile} {
		if _, err := os.Stat(filepath.Join(static, f)); err != nil {
			t.Errorf("static repository: %v", err)
		}
	}
	got, err := exec.Command(filepath.Join(static, "greet-cli", "greet-cli"), "release").Output()
	if err != nil || string(got) != "Hello, release!\n" {
		t.Errorf("published greet-cli: %q, %v", got, err)
	}
}
