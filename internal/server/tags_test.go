package server

import (
	"context"
	"strings"
	"testing"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/oci"
	"github.com/kilnbuild/kiln/internal/registry"
	"github.com/kilnbuild/kiln/internal/store"
	"github.com/kilnbuild/kiln/internal/store/sqlstore"
)

// TestKilledBuildLeavesNoBuildTag: an attempt tags its outputs last, but a
// crash can come between the tags and the status. Kiln restarting on that
// state ends the build consistently: retried and succeeded with build-N
// naming its artifact, or failed (interrupted twice) with build-N gone.
func TestKilledBuildLeavesNoBuildTag(t *testing.T) {
	t.Parallel()
	requireSandbox(t)
	url, _ := gitRepo(t, map[string]string{"Makefile": makefile, "VERSION": "1.0\n"})
	dir := t.TempDir()
	cfg := Config{DataDir: dir, Listen: "127.0.0.1:0", Log: quietLog(), AllowFileSources: true, RegistryNoSync: true}
	f, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	a := api{t: t, base: f.URL, token: f.AdminToken, hc: f.HTTPClient()}
	a.must(201, "POST", nsPath("default", "applications"), app("greet"))
	a.must(201, "POST", nsPath("default", "components"), scriptComponent("hello", url, nil))
	first := waitBuild(t, a, "hello", 1)
	a.must(201, "POST", nsPath("default", "builds"), map[string]any{"metadata": map[string]any{"name": "hello-again"},
		"spec": map[string]any{"component": "hello", "reason": map[string]any{"type": "manual"}}})
	second := waitBuild(t, a, "hello", 2)
	for _, b := range []map[string]any{first, second} {
		if str(b, "status", "phase") != v1alpha1.BuildSucceeded {
			t.Fatalf("build %s: %s", str(b, "metadata", "name"), str(b, "status", "message"))
		}
	}
	digest := str(first, "status", "artifact", "digest")
	// The registry's address changes with the restart: name the
	// repository on the running server.
	resolve := func(f *Factory, tag string) string {
		repo := strings.TrimPrefix(f.URL, "https://") + "/default/hello"
		d, err := oci.Resolve(context.Background(), repo+":"+tag, oci.Remote{Token: f.AdminToken, RootCAs: f.caPool()})
		if err != nil {
			return ""
		}
		return d.Digest
	}
	if resolve(f, "build-1") != digest || resolve(f, "build-2") != digest {
		t.Fatalf("after the builds: build-1 %s, build-2 %s; want %s", resolve(f, "build-1"), resolve(f, "build-2"), digest)
	}
	_ = f.Stop()

	// The state a kill after tagging leaves: build 1 in its first attempt,
	// build 2 in its second (the retry of an earlier interruption).
	crashed(t, cfg, str(first, "metadata", "name"), 1)
	crashed(t, cfg, "hello-again", 2)

	f, err = Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Stop() })
	a = api{t: t, base: f.URL, token: f.AdminToken, hc: f.HTTPClient()}
	var b1, b2 map[string]any
	eventuallyFor(t, "both builds finished again", 90e9, func() bool {
		b1 = a.must(200, "GET", nsPath("default", "builds")+"/"+str(first, "metadata", "name"), nil).Obj
		b2 = a.must(200, "GET", nsPath("default", "builds")+"/hello-again", nil).Obj
		return str(b1, "status", "completionTime") != "" && str(b2, "status", "completionTime") != ""
	})
	if str(b1, "status", "phase") != v1alpha1.BuildSucceeded || str(b1, "status", "attempts") != "2" || resolve(f, "build-1") != str(b1, "status", "artifact", "digest") {
		t.Errorf("build 1 retried: %s (%s), attempts %s; build-1 names %q, its artifact %q", str(b1, "status", "phase"), str(b1, "status", "message"),
			str(b1, "status", "attempts"), resolve(f, "build-1"), str(b1, "status", "artifact", "digest"))
	}
	if str(b2, "status", "phase") != v1alpha1.BuildFailed || !strings.Contains(str(b2, "status", "message"), "interrupted twice") ||
		strings.Contains(str(b2, "status", "message"), "could not be removed") || resolve(f, "build-2") != "" {
		t.Errorf("build 2 interrupted twice: %s (%s); build-2 names %q, want no such tag", str(b2, "status", "phase"), str(b2, "status", "message"), resolve(f, "build-2"))
	}
	if resolve(f, str(first, "status", "commit")) == "" {
		t.Error("the commit tag of the signed artifact is gone")
	}
}

// crashed writes, with no server running, the status an attempt killed
// after tagging its outputs leaves: Running, the outputs recorded, no
// outcome.
func crashed(t *testing.T, cfg Config, name string, attempt int) {
	t.Helper()
	cfg.defaults()
	st, err := sqlstore.Open(context.Background(), databaseURL(cfg.Database), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	reg := registry.New(st, nil)
	k := v1alpha1.MustLookup("Build")
	obj, err := reg.Get(context.Background(), k, "default", name, registry.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b := obj.(*v1alpha1.Build)
	b.Status.Outputs = []v1alpha1.BuildArtifact{*b.Status.Artifact}
	b.Status.Phase, b.Status.Attempts, b.Status.Interrupted = v1alpha1.BuildRunning, attempt, attempt > 1
	b.Status.Artifact, b.Status.CompletionTime, b.Status.Evidence, b.Status.CachedFrom = nil, nil, nil, ""
	if _, err := reg.Update(context.Background(), k, b, registry.UpdateOptions{Subresource: "status"}); err != nil {
		t.Fatal(err)
	}
}
