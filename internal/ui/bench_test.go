package ui_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/server"
	"github.com/kilnbuild/kiln/internal/store"
)

// TestUIBenchmark is the browser benchmark of docs/benchmarks.md: a
// namespace with 10,000 components and 100,000 finished builds (written
// straight into the store, as the registry would, so no build runs), then
// web/e2e/bench.mjs measures first meaningful paint and list interaction
// latency with the Performance API. Run with KILN_UI_BENCH=1; not in CI.
func TestUIBenchmark(t *testing.T) {
	if os.Getenv("KILN_UI_BENCH") == "" {
		t.Skip("set KILN_UI_BENCH=1 to run the UI benchmark")
	}
	webDir, _ := filepath.Abs(filepath.Join("..", "..", "web"))
	needTools(t, webDir)
	components, builds := envInt("KILN_UI_BENCH_COMPONENTS", 10000), envInt("KILN_UI_BENCH_BUILDS", 100000)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	f, err := server.Start(ctx, server.Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0",
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Stop() })
	token := userToken(t, f, "bench")
	adminPost(t, f, "/api/v1/namespaces", map[string]any{"metadata": map[string]any{"name": "bench"}})
	adminPost(t, f, "/apis/kiln.dev/v1alpha1/namespaces/bench/rolebindings", map[string]any{"metadata": map[string]any{"name": "bench"},
		"spec": map[string]any{"role": "viewer", "subjects": []any{map[string]any{"kind": "User", "name": "bench"}}}})
	app := adminPost(t, f, "/apis/kiln.dev/v1alpha1/namespaces/bench/applications", map[string]any{"metadata": map[string]any{"name": "big"}, "spec": map[string]any{}})
	start := time.Now()
	seed(t, ctx, f.Store, app, components, builds)
	t.Logf("seeded %d components and %d builds in %s", components, builds, time.Since(start).Round(time.Millisecond))
	rec := &recorder{}
	proxy := recordingProxy(t, f, rec)
	out := outputDir(t)
	runBench(t, ctx, webDir, map[string]string{"KILN_URL": proxy.URL, "KILN_LOGIN_CODE": loginCode(t, f, token), "KILN_NS": "bench",
		"KILN_OUT": out, "KILN_CHROMIUM": chromium})
}

func runBench(t *testing.T, ctx context.Context, webDir string, env map[string]string) {
	runScriptFile(t, ctx, webDir, "bench.mjs", env, nil)
}

func envInt(k string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(k)); err == nil && n > 0 {
		return n
	}
	return def
}

// seed writes components and finished builds in batches, encoded as the
// registry encodes them (JSON, indexed fields, owner uids).
func seed(t *testing.T, ctx context.Context, st store.Store, app map[string]any, components, builds int) {
	t.Helper()
	appUID := app["metadata"].(map[string]any)["uid"].(string)
	ck, _ := v1alpha1.Lookup("Component")
	bk, _ := v1alpha1.Lookup("Build")
	uids := make([]string, components)
	var ops []store.Op
	flush := func(force bool) {
		if len(ops) >= 1000 || force && len(ops) > 0 {
			if _, err := st.Batch(ctx, ops); err != nil {
				t.Fatalf("seeding: %v", err)
			}
			ops = ops[:0]
		}
	}
	for i := range components {
		c := benchComponent(i, builds/components, appUID)
		uids[i] = string(c.UID)
		ops = append(ops, store.Op{Type: store.OpCreate, Object: record(t, ck, c)})
		flush(false)
	}
	flush(true)
	for i := range builds {
		ops = append(ops, store.Op{Type: store.OpCreate, Object: record(t, bk, benchBuild(i, components, uids))})
		flush(false)
	}
	flush(true)
}

func benchComponent(i, perComponent int, appUID string) *v1alpha1.Component {
	c := &v1alpha1.Component{}
	c.APIVersion, c.Kind = v1alpha1.APIVersion, "Component"
	c.Name, c.Namespace, c.UID = fmt.Sprintf("comp-%05d", i), "bench", types.UID(fmt.Sprintf("c-%08d-0000-4000-8000-000000000000", i))
	c.CreationTimestamp = metav1.Now()
	c.OwnerReferences = []metav1.OwnerReference{{APIVersion: v1alpha1.APIVersion, Kind: "Application", Name: "big", UID: types.UID(appUID)}}
	c.Spec.Application = "big"
	c.Spec.Source.Git = &v1alpha1.GitSource{URL: fmt.Sprintf("https://git.example.invalid/comp-%05d.git", i)}
	c.Spec.Build = &v1alpha1.ComponentBuild{PipelineRef: "script", PollInterval: &metav1.Duration{}}
	if i > 0 {
		c.Spec.Build.Requires = []string{fmt.Sprintf("comp-%05d", i/2)}
	}
	c.Status.BuildCounter = int64(perComponent)
	c.Status.LastSeenCommit = fmt.Sprintf("%040x", i)
	c.Status.LastBuild = fmt.Sprintf("comp-%05d-b%03d", i, perComponent)
	c.Status.LatestArtifact = fmt.Sprintf("sha256:%064x", i)
	return c
}

func benchBuild(i, components int, uids []string) *v1alpha1.Build {
	ci, n := i%components, i/components+1
	b := &v1alpha1.Build{}
	b.APIVersion, b.Kind = v1alpha1.APIVersion, "Build"
	b.Name, b.Namespace = fmt.Sprintf("comp-%05d-b%03d", ci, n), "bench"
	b.UID = types.UID(fmt.Sprintf("b-%08d-0000-4000-8000-000000000000", i))
	b.OwnerReferences = []metav1.OwnerReference{{APIVersion: v1alpha1.APIVersion, Kind: "Component", Name: fmt.Sprintf("comp-%05d", ci), UID: types.UID(uids[ci])}}
	b.Labels = map[string]string{v1alpha1.LabelComponent: fmt.Sprintf("comp-%05d", ci)}
	b.Spec.Component = fmt.Sprintf("comp-%05d", ci)
	b.Spec.Reason = v1alpha1.BuildReason{Type: v1alpha1.ReasonSourceChange, Message: "benchmark"}
	start := metav1.NewTime(time.Now().Add(-time.Duration(i) * time.Second))
	end := metav1.NewTime(start.Add(time.Duration(20+i%100) * time.Second))
	b.Status.Phase, b.Status.BuildNumber, b.Status.Commit = v1alpha1.BuildSucceeded, int64(n), fmt.Sprintf("%040x", i)
	if i%50 == 0 {
		b.Status.Phase, b.Status.Message = v1alpha1.BuildFailed, "step build: exit code 2"
	}
	b.Status.QueuedTime, b.Status.StartTime, b.Status.CompletionTime = &start, &start, &end
	return b
}

func record(t *testing.T, k *v1alpha1.Kind, obj v1alpha1.Object) *store.Object {
	data, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	rec := &store.Object{Kind: k.Kind, Namespace: obj.GetNamespace(), Name: obj.GetName(), UID: string(obj.GetUID()),
		Labels: obj.GetLabels(), Data: data, Fields: k.Fields(obj)}
	for _, o := range obj.GetOwnerReferences() {
		rec.OwnerUIDs = append(rec.OwnerUIDs, string(o.UID))
	}
	return rec
}
