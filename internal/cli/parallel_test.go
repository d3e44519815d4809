package cli

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// Root commands share nothing: parallel tests (and programs running
// several, like `kiln up --apply`) build and run them at once, each with
// its own options. Run with -race: a package-level registry of root
// commands or hooks set by the program would be a data race here.
func TestRootCommandsInParallel(t *testing.T) {
	edges := writeFile(t, t.TempDir(), "edges.tsv", "app\tlib\nlib\tcore\n")
	for i := range 8 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			version := fmt.Sprintf("v0.0.%d", i)
			out := runRoot(t, NewRootCommand(WithVersion(version)), "version", "--client")
			if out != "Client Version: "+version+"\n" {
				t.Errorf("root command %d printed %q", i, out)
			}
			out = runRoot(t, NewRootCommand(), "graph", "plan", "--edges", edges, "--changed", "lib")
			if !strings.Contains(out, "rebuild        2 nodes (changed: lib)") {
				t.Errorf("offline plan:\n%s", out)
			}
		})
	}
}

// runRoot runs root with args and returns what it printed.
func runRoot(t *testing.T, root *cobra.Command, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&out)
	if err := root.Execute(); err != nil {
		t.Fatalf("kiln %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String()
}
