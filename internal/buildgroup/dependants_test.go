package buildgroup

import (
	"io"
	"log/slog"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/registry"
	"github.com/kilnbuild/kiln/internal/registry/registrytest"
)

// dependantsWorld is a namespace with lib, and app requiring it; app's
// last build used lib at appUsed; lib's new build (outside any group)
// produced "new", while lib's status still names "old" (the component is
// updated after its build finishes).
func dependantsWorld(t *testing.T, appUsed string) (*Controller, *v1alpha1.Build) {
	t.Helper()
	reg := registrytest.New(t)
	ctx := t.Context()
	create := func(kind string, obj v1alpha1.Object) {
		t.Helper()
		if _, err := reg.Create(ctx, v1alpha1.MustLookup(kind), obj, registry.CreateOptions{}); err != nil {
			t.Fatalf("creating %s %s: %v", kind, obj.GetName(), err)
		}
	}
	ns := &v1alpha1.Namespace{}
	ns.Name = "team"
	create("Namespace", ns)
	app := &v1alpha1.Application{}
	app.Name, app.Namespace = "shop", "team"
	create("Application", app)
	for _, name := range []string{"lib", "app"} {
		c := &v1alpha1.Component{Spec: v1alpha1.ComponentSpec{Application: "shop",
			Source: v1alpha1.ComponentSource{Git: &v1alpha1.GitSource{URL: "https://example.com/" + name + ".git"}},
			Build:  &v1alpha1.ComponentBuild{PipelineRef: "script"}}}
		if name == "app" {
			c.Spec.Build.Requires = []string{"lib"}
		}
		c.Name, c.Namespace = name, "team"
		create("Component", c)
	}
	digest := func(s string) string { return "sha256:" + s }
	build := func(name, comp string, inputs []v1alpha1.BuildInput, artifact string) *v1alpha1.Build {
		b := &v1alpha1.Build{Spec: v1alpha1.BuildSpec{Component: comp, Inputs: inputs}}
		b.Name, b.Namespace = name, "team"
		create("Build", b)
		got, err := registry.Get[v1alpha1.Build](ctx, reg, "team", name)
		if err != nil {
			t.Fatal(err)
		}
		now := metav1.Now()
		got.Status = v1alpha1.BuildStatus{Phase: v1alpha1.BuildSucceeded, CompletionTime: &now, BuildNumber: 1,
			Artifact: &v1alpha1.BuildArtifact{Repository: "reg.example/team/" + comp, Digest: digest(artifact)}}
		if got, err = registry.WriteStatus(ctx, reg, got); err != nil {
			t.Fatal(err)
		}
		return got
	}
	build("app-1", "app", []v1alpha1.BuildInput{{Component: "lib", Repository: "reg.example/team/lib", Digest: digest(appUsed)}}, "app1")
	newLib := build("lib-2", "lib", nil, "new")
	for name, last := range map[string]string{"lib": "lib-2", "app": "app-1"} {
		if _, err := registry.UpdateStatus(ctx, reg, "team", name, func(c *v1alpha1.Component) error {
			c.Status.LastBuild, c.Status.BuildCounter = last, 2
			if name == "lib" {
				c.Status.LatestArtifact, c.Status.LatestArtifactRef = digest("old"), "reg.example/team/lib@"+digest("old")
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	c := &Controller{reg: reg, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now}
	return c, newLib
}

// A new output of lib rebuilds app, built against the old one, even while
// lib's status still names the old output; the group names both outputs,
// the build records its group, and deciding again (a restart) makes no
// second group.
func TestDependantsGroupOnceWhileStatusLags(t *testing.T) {
	t.Parallel()
	c, b := dependantsWorld(t, "old")
	ctx := t.Context()
	if _, err := c.dependants(ctx, b); err != nil {
		t.Fatal(err)
	}
	g, err := registry.Get[v1alpha1.BuildGroup](ctx, c.reg, "team", "lib-2-deps")
	if err != nil {
		t.Fatalf("no dependants group: %v", err)
	}
	if r := g.Spec.Reason; r.OldDigest != "sha256:old" || r.NewDigest != "sha256:new" {
		t.Errorf("reason %+v, want old -> new", r)
	}
	b, err = registry.Get[v1alpha1.Build](ctx, c.reg, "team", "lib-2")
	if err != nil {
		t.Fatal(err)
	}
	if got := b.Annotations[v1alpha1.AnnotationDependants]; got != "lib-2-deps" {
		t.Errorf("annotation %q, want the group's name", got)
	}
	if _, _, err := c.reg.Delete(ctx, groupKind, "team", "lib-2-deps", registry.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.dependants(ctx, b); err != nil {
		t.Fatal(err)
	}
	if _, err := registry.Get[v1alpha1.BuildGroup](ctx, c.reg, "team", "lib-2-deps"); !apierrors.IsNotFound(err) {
		t.Errorf("a build already decided for made a group again: %v", err)
	}
}

// A dependant already built against the new output is left out: no group,
// and the build records that none was needed.
func TestDependantsUpToDateMakesNoGroup(t *testing.T) {
	t.Parallel()
	c, b := dependantsWorld(t, "new")
	ctx := t.Context()
	if _, err := c.dependants(ctx, b); err != nil {
		t.Fatal(err)
	}
	if _, err := registry.Get[v1alpha1.BuildGroup](ctx, c.reg, "team", "lib-2-deps"); !apierrors.IsNotFound(err) {
		t.Errorf("a group for dependants already up to date: %v", err)
	}
	b, err := registry.Get[v1alpha1.Build](ctx, c.reg, "team", "lib-2")
	if err != nil {
		t.Fatal(err)
	}
	if got := b.Annotations[v1alpha1.AnnotationDependants]; got != "-" {
		t.Errorf("annotation %q, want -", got)
	}
}
