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
	"github.com/kilnbuild/kiln/internal/registry"
	"github.com/kilnbuild/kiln/internal/server"
)

// TestDemoBuildsEveryComponent runs what `kiln up --demo` runs: three real
// repositories (make, go, repository pipeline) built in the sandbox.
func TestDemoBuildsEveryComponent(t *testing.T) {
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
	urls, err := CreateRepos(t.Context(), filepath.Join(dir, "repos"))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := v1alpha1.DecodeAll(strings.NewReader(Manifest(urls)))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		k, _ := v1alpha1.KindOf(o)
		if _, err := f.Registry.Create(t.Context(), k, o, registry.CreateOptions{}); err != nil {
			t.Fatalf("creating %s: %v", o.GetName(), err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	var out strings.Builder
	if err := Follow(ctx, f.Registry, "demo", len(Repos), &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if strings.Count(out.String(), "Succeeded") != len(Repos) {
		t.Fatalf("not every demo build succeeded:\n%s", out.String())
	}
}
