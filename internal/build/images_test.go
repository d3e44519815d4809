package build

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Images in Kiln's registries (embedded, or the push registry read with
// Kiln's credentials) must belong to the namespace; other registries are
// read anonymously and left to their own authorisation.
func TestCheckImage(t *testing.T) {
	t.Parallel()
	e := &PipelineExecutor{Registry: "ext.example:5000/prod", Embedded: "kiln.example:7070"}
	for image, want := range map[string]string{
		"kiln.example:7070/a/tools:1":                   "",
		"kiln.example:7070/a/tools@sha256:" + hex64:     "",
		"ext.example:5000/prod/a/tools:1":               "",
		"host":                                          "",
		"docker.io/library/busybox:1":                   "",
		"ext.example:5000/prodx/b/tools:1":              "", // not under the push prefix: no Kiln credentials
		"kiln.example:7070/a-b/tools:1":                 `belongs to namespace "a-b"`,
		"kiln.example:7070/b/tools@sha256:" + hex64:     `belongs to namespace "b"`,
		"ext.example:5000/prod/b/tools@sha256:" + hex64: `belongs to namespace "b"`,
	} {
		err := e.checkImage("a", image)
		if (want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), want)) {
			t.Errorf("checkImage(a, %s) = %v, want %q", image, err, want)
		}
	}
}

var hex64 = strings.Repeat("ab", 32)

// PurgeNamespace stops the namespace's work first, then deletes its files
// and no other namespace's, even one whose name starts the same.
func TestPurgeNamespace(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e := &PipelineExecutor{WorkDir: filepath.Join(dir, "work"), ImageCache: filepath.Join(dir, "images"),
		Attestor: &Attestor{Dir: filepath.Join(dir, "evidence")}}
	files := func(ns string) []string {
		return []string{filepath.Join(e.imageCacheDir(ns), "sha256-x", "bin"), filepath.Join(e.WorkDir, "builds", ns, "b1", "f"),
			filepath.Join(e.WorkDir, "runs", ns, "r1", "f"), EvidencePath(e.Attestor.Dir, ns, "b1", EvidenceProvenance)}
	}
	for _, ns := range []string{"a", "a-b", "runs", "builds"} {
		for _, f := range files(ns) {
			writeTestFile(t, f)
		}
	}
	ctx, done := e.active.start(context.Background(), "a")
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
