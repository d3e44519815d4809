package buildgroup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/builder"
	"github.com/kilnbuild/kiln/internal/controller"
	"github.com/kilnbuild/kiln/internal/executor"
	"github.com/kilnbuild/kiln/internal/logstore"
	"github.com/kilnbuild/kiln/internal/registry"
	"github.com/kilnbuild/kiln/internal/secret"
	"github.com/kilnbuild/kiln/internal/snapshot"
	"github.com/kilnbuild/kiln/internal/store"
	"github.com/kilnbuild/kiln/internal/store/sqlstore"
)

// flakyExecutor fails the first build of the components in failOnce and
// succeeds otherwise, with an output unique to the build.
type flakyExecutor struct {
	mu       sync.Mutex
	failOnce map[string]bool
}

func (f *flakyExecutor) Execute(_ context.Context, job executor.Job) (executor.Outcome, error) {
	f.mu.Lock()
	fail := f.failOnce[job.Component.Name]
	delete(f.failOnce, job.Component.Name)
	f.mu.Unlock()
	if fail {
		return executor.Outcome{Commit: strings.Repeat("c", 40), Failed: true, Message: "step build/make exited 2"}, nil
	}
	sum := sha256.Sum256([]byte(job.Build.Name))
	digest := "sha256:" + hex.EncodeToString(sum[:])
	return executor.Outcome{Commit: strings.Repeat("c", 40), ContentDigest: digest,
		Artifact: &v1alpha1.BuildArtifact{Repository: "registry.test/" + job.Build.Namespace + "/" + job.Component.Name, Digest: digest}}, nil
}

// flow runs the build, group and snapshot controllers over a real store.
type flow struct {
	reg *registry.Registry
}

func startFlow(t *testing.T, exec builder.Executor) *flow {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlstore.OpenSQLite(t.Context(), filepath.Join(dir, "kiln.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	key, _ := secret.LoadOrCreateKey(filepath.Join(dir, "key"))
	sealer, _ := secret.New(key)
	f := &flow{reg: registry.New(st, sealer)}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	m := controller.NewManager(f.reg, log)
	logs, err := logstore.Open(filepath.Join(dir, "logs"))
	if err != nil {
		t.Fatal(err)
	}
	(&builder.Controllers{Executor: exec, Workers: 2, Logs: logs, Log: log}).Register(m)
	(&Controller{Log: log, WorkDir: filepath.Join(dir, "work")}).Register(m)
	(&snapshot.Controller{Log: log}).Register(m)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Start(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; _ = st.Close() })
	f.create(t, "Namespace", "", map[string]any{"metadata": map[string]any{"name": "team"}})
	return f
}

func (f *flow) create(t *testing.T, kind, ns string, doc map[string]any) {
	t.Helper()
	k := v1alpha1.MustLookup(kind)
	raw, _ := json.Marshal(doc)
	obj, err := v1alpha1.DecodeAs(k, raw)
	if err != nil {
		t.Fatal(err)
	}
	obj.SetNamespace(ns)
	if _, err := f.reg.Create(t.Context(), k, obj, registry.CreateOptions{}); err != nil {
		t.Fatalf("creating %s: %v", kind, err)
	}
}

func (f *flow) app(t *testing.T, name string, components ...string) {
	t.Helper()
	f.create(t, "Application", "team", map[string]any{"metadata": map[string]any{"name": name}, "spec": map[string]any{}})
	for _, c := range components {
		f.create(t, "Component", "team", map[string]any{"metadata": map[string]any{"name": c},
			"spec": map[string]any{"application": name, "source": map[string]any{"git": map[string]any{"url": "https://example.com/" + c + ".git"}}}})
	}
}

func (f *flow) group(t *testing.T, name string) *v1alpha1.BuildGroup {
	t.Helper()
	obj, err := f.reg.Get(t.Context(), groupKind, "team", name, registry.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return obj.(*v1alpha1.BuildGroup)
}

// waitGroup waits for the group to finish (and be done with by the
// snapshot controller) and returns it.
func (f *flow) waitGroup(t *testing.T, name string) *v1alpha1.BuildGroup {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if g := f.group(t, name); g.Finished() && snapshot.GroupDone(g) {
			return g
		}
		time.Sleep(10 * time.Millisecond)
	}
	g := f.group(t, name)
	t.Fatalf("group %s never finished: phase %q, %s, members %+v, annotations %v", name, g.Status.Phase, g.Status.Message, g.Status.Members, g.Annotations)
	return nil
}

func (f *flow) snapshots(t *testing.T) []*v1alpha1.Snapshot {
	t.Helper()
	page, err := f.reg.List(t.Context(), v1alpha1.MustLookup("Snapshot"), registry.ListOptions{Namespace: "team"})
	if err != nil {
		t.Fatal(err)
	}
	var out []*v1alpha1.Snapshot
	for _, o := range page.Items {
		out = append(out, o.(*v1alpha1.Snapshot))
	}
	return out
}

// A failed group, retried, gets a Snapshot when the retry succeeds: the
// snapshot controller's "no Snapshot" decision was for the failed attempt
// only.
func TestRetriedGroupGetsASnapshot(t *testing.T) {
	t.Parallel()
	f := startFlow(t, &flakyExecutor{failOnce: map[string]bool{"web": true}})
	f.app(t, "shop", "api", "web")
	f.create(t, "BuildGroup", "team", map[string]any{"metadata": map[string]any{"name": "nightly"},
		"spec": map[string]any{"application": "shop", "components": []string{"api", "web"}}})
	g := f.waitGroup(t, "nightly")
	if g.Status.Phase != v1alpha1.GroupFailed || len(f.snapshots(t)) != 0 {
		t.Fatalf("first attempt: phase %s, %d snapshots; want Failed and none", g.Status.Phase, len(f.snapshots(t)))
	}
	if _, err := f.reg.Patch(t.Context(), groupKind, "team", "nightly", registry.MergePatch, []byte(`{"spec":{"retry":1}}`), registry.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for g = f.group(t, "nightly"); g.Status.Retried != 1 && time.Now().Before(deadline); g = f.group(t, "nightly") {
		time.Sleep(10 * time.Millisecond)
	}
	g = f.waitGroup(t, "nightly")
	if g.Status.Phase != v1alpha1.GroupSucceeded {
		t.Fatalf("retry: phase %s (%s)", g.Status.Phase, g.Status.Message)
	}
	snaps := f.snapshots(t)
	if len(snaps) != 1 || g.Annotations[snapshot.AnnotationSnapshot] != snaps[0].Name {
		t.Fatalf("retry: %d snapshots, group marked %q; want the group's Snapshot", len(snaps), g.Annotations[snapshot.AnnotationSnapshot])
	}
	if s := snaps[0]; len(s.Spec.Components) != 2 || s.Labels[v1alpha1.LabelSnapshotType] != v1alpha1.SnapshotTypeGroup || s.Sequence() == 0 {
		t.Fatalf("snapshot %s: components %v, labels %v", s.Name, s.Spec.Components, s.Labels)
	}
}

// Names as long as the API takes flow into labels, build names, log
// files and Snapshot names: a group named with 253 characters, of an
// application and components named with 63, finishes and gets its
// Snapshot; so does a 253-character build outside any group. Longer
// component and application names are refused when created.
func TestLongNamesFlowThrough(t *testing.T) {
	t.Parallel()
	f := startFlow(t, &flakyExecutor{})
	app, api, web := strings.Repeat("a", 63), strings.Repeat("b", 63), strings.Repeat("c", 62)+"x"
	f.app(t, app, api, web)
	group := strings.Repeat("g", 253)
	f.create(t, "BuildGroup", "team", map[string]any{"metadata": map[string]any{"name": group},
		"spec": map[string]any{"application": app, "components": []string{api, web}}})
	g := f.waitGroup(t, group)
	if g.Status.Phase != v1alpha1.GroupSucceeded || g.Annotations[snapshot.AnnotationSnapshot] == "-" {
		t.Fatalf("group: phase %s (%s), snapshot %q", g.Status.Phase, g.Status.Message, g.Annotations[snapshot.AnnotationSnapshot])
	}
	for _, m := range g.Status.Members {
		obj, err := f.reg.Get(t.Context(), buildKind, "team", m.Build, registry.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if l := obj.GetLabels(); l[v1alpha1.LabelComponent] != m.Component || l[LabelGroup] != v1alpha1.LabelValue(group) {
			t.Errorf("build %s: labels %v", m.Build, l)
		}
	}
	name := strings.Repeat("z", 253)
	f.create(t, "Build", "team", map[string]any{"metadata": map[string]any{"name": name}, "spec": map[string]any{"component": api}})
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		obj, err := f.reg.Get(t.Context(), buildKind, "team", name, registry.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if b := obj.(*v1alpha1.Build); b.Finished() && b.Annotations[snapshot.AnnotationSnapshot] != "" {
			if b.Status.Phase != v1alpha1.BuildSucceeded || b.Annotations[snapshot.AnnotationSnapshot] == "-" {
				t.Fatalf("long build: %s (%s), snapshot %q", b.Status.Phase, b.Status.Message, b.Annotations[snapshot.AnnotationSnapshot])
			}
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := len(f.snapshots(t)); n != 2 {
		t.Fatalf("%d snapshots, want the group's and the build's", n)
	}
	for _, n := range []int{64, 253} {
		for _, kind := range []string{"Component", "Application"} {
			doc := map[string]any{"metadata": map[string]any{"name": strings.Repeat("l", n)},
				"spec": map[string]any{"application": app, "source": map[string]any{"git": map[string]any{"url": "https://example.com/l.git"}}}}
			if kind == "Application" {
				doc["spec"] = map[string]any{}
			}
			raw, _ := json.Marshal(doc)
			obj, err := v1alpha1.DecodeAs(v1alpha1.MustLookup(kind), raw)
			if err != nil {
				t.Fatal(err)
			}
			obj.SetNamespace("team")
			_, err = f.reg.Create(t.Context(), v1alpha1.MustLookup(kind), obj, registry.CreateOptions{})
			if err == nil || !strings.Contains(err.Error(), "at most 63 characters") {
				t.Errorf("%s named with %d characters: %v; want refused", kind, n, err)
			}
		}
	}
}
