package executor

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/kilnbuild/kiln/internal/pipelinerun"
)

// PurgeNamespace stops the namespace's work first, then deletes its files
// and no other namespace's, even one whose name starts the same.
func TestPurgeNamespace(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	runs := &pipelinerun.Runner{WorkDir: filepath.Join(dir, "work"), ImageCache: filepath.Join(dir, "images")}
	e := &Executor{Runs: runs, WorkDir: runs.WorkDir, Attestor: &Attestor{Dir: filepath.Join(dir, "evidence")}}
	files := func(ns string) []string {
		return []string{filepath.Join(runs.ImageCache, ns, "sha256-x", "bin"), filepath.Join(e.WorkDir, "builds", ns, "b1", "f"),
			filepath.Join(e.WorkDir, "runs", ns, "r1", "f"), EvidencePath(e.Attestor.Dir, ns, "b1", EvidenceProvenance)}
	}
	for _, ns := range []string{"a", "a-b", "runs", "builds"} {
		for _, f := range files(ns) {
			writeTestFile(t, f)
		}
	}
	ctx, done := runs.Track(context.Background(), "a")
	if err := e.PurgeNamespace(ctx, "a"); err == nil {
		t.Fatal("purged while a build of the namespace was running")
	}
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Fatal("the running build was not stopped")
	}
	done()
	for range 2 { // idempotent
		if err := e.PurgeNamespace(context.Background(), "a"); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range files("a") {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			t.Errorf("%s survives its namespace: %v", f, err)
		}
	}
	for _, ns := range []string{"a-b", "runs", "builds"} {
		for _, f := range files(ns) {
			if _, err := os.Stat(f); err != nil {
				t.Errorf("namespace %s lost %s: %v", ns, f, err)
			}
		}
	}
}

func writeTestFile(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
}
