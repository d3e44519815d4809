package demo

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/kilnbuild/kiln/internal/registry"
)

// RunOptions say where the demo runs.
type RunOptions struct {
	// Registry is the factory's object registry, followed to show progress.
	Registry *registry.Registry
	// DataDir is the factory's data directory; the demo's repositories go
	// under DataDir/demo.
	DataDir string
	// Apply applies manifest files to the factory (`kiln apply -f`).
	Apply func(ctx context.Context, paths ...string) error
	// Out receives the progress.
	Out io.Writer
}

// Run creates the demo repositories, application, test scenario and
// release configuration, and follows the first builds through tests to a
// release (for up to 10 minutes).
func Run(ctx context.Context, o RunOptions) error {
	dir, err := filepath.Abs(filepath.Join(o.DataDir, "demo"))
	if err != nil {
		return err
	}
	urls, err := CreateRepos(ctx, dir)
	if err != nil {
		return err
	}
	manifest := filepath.Join(dir, "greet.yaml")
	if err := os.WriteFile(manifest, []byte(Manifest(urls)), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "Demo: %d git repositories in %s; applying %s\n", len(urls), dir, manifest)
	if err := o.Apply(ctx, manifest); err != nil {
		return err
	}
	fmt.Fprintln(o.Out, "\nBuilding (each step runs in the bubblewrap sandbox, outputs are pushed to the embedded registry):")
	fctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	res, err := Follow(fctx, o.Registry, Namespace, len(Repos), filepath.Join(o.DataDir, "repos"), o.Out)
	if err != nil {
		return err
	}
	printTryNext(o.Out, res, dir)
	return nil
}

// printTryNext prints what to try while the demo factory runs.
func printTryNext(out io.Writer, res Outcome, dir string) {
	verdict := "RELEASE"
	if res.Release != "" {
		verdict = res.Release
	}
	fmt.Fprintf(out, "\nTry, while Kiln runs (from this directory):\n"+
		"  go run ./cmd/kiln get builds -n demo\n"+
		"  go run ./cmd/kiln logs -n demo $(go run ./cmd/kiln get builds -n demo -o name | head -1 | cut -d/ -f2)\n"+
		"  go run ./cmd/kiln get snapshots,releases -n demo\n"+
		"  go run ./cmd/kiln release verdict %[1]s -n demo   # the policy's verdict, rule by rule\n"+
		"  (cd %[2]s/libgreet && echo '/* tweak */' >> greet.c && git commit -qam tweak)   # rebuilt within 5 s; identical output: no new snapshot (early cutoff)\n"+
		"  (cd %[2]s/libgreet && echo 'int greet_version(void) { return 2; }' >> greet.c && git commit -qam v2)   # new output: a snapshot, its test, a release\n"+
		"  (cd %[2]s/libgreet && sed -i 's/Hello, %%s!/Howdy, %%s!/' greet.c && git commit -qam howdy)   # the smoke test fails: no release\n"+
		"  go run ./cmd/kiln logs -n demo snapshot/<snapshot> --scenario smoke\n"+
		"  go run ./cmd/kiln build greet-cli -n demo -f\n", verdict, dir)
}
