package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/kilnbuild/kiln/internal/demo"
	"github.com/kilnbuild/kiln/internal/server"
)

// runDemo creates the demo repositories, application, test scenario and
// release configuration, and follows the first builds through tests to a
// release.
func runDemo(ctx context.Context, cmd *cobra.Command, f *server.Factory, dataDir string) error {
	out := cmd.OutOrStdout()
	dir, err := filepath.Abs(filepath.Join(dataDir, "demo"))
	if err != nil {
		return err
	}
	urls, err := demo.CreateRepos(ctx, dir)
	if err != nil {
		return err
	}
	manifest := filepath.Join(dir, "greet.yaml")
	if err := os.WriteFile(manifest, []byte(demo.Manifest(urls)), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(out, "Demo: %d git repositories in %s; applying %s\n", len(urls), dir, manifest)
	if err := kilnApply(cmd, dataDir, []string{manifest}); err != nil {
		return err
	}
	fmt.Fprintln(out, "\nBuilding (each step runs in the bubblewrap sandbox, outputs are pushed to the embedded registry):")
	fctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	o, err := demo.Follow(fctx, f.Registry, demo.Namespace, len(demo.Repos), filepath.Join(dataDir, "repos"), out)
	if err != nil {
		return err
	}
	verdict := "RELEASE"
	if o.Release != "" {
		verdict = o.Release
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
	return nil
}
