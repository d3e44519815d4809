package demo

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/cli"
	"github.com/kilnbuild/kiln/internal/lineage"
	"github.com/kilnbuild/kiln/internal/server"
	"github.com/kilnbuild/kiln/internal/trace"
)

// checkTraced: on the demo, `kiln trace up` from the release reaches the
// library's commit, and `kiln trace down` from that commit reaches the
// release and the static repository it published to.
func checkTraced(t *testing.T, f *server.Factory, dataDir string, o Outcome) {
	t.Helper()
	var lib *v1alpha1.SnapshotComponent
	for _, s := range listAll[*v1alpha1.Snapshot](t, f.Registry, "Snapshot") {
		if s.Name == o.Snapshot {
			for i, c := range s.Spec.Components {
				if c.Name == "libgreet" && c.Source != nil && c.Source.Git != nil {
					lib = &s.Spec.Components[i]
				}
			}
		}
	}
	if lib == nil {
		t.Fatalf("the released snapshot %s has no libgreet with its source", o.Snapshot)
	}
	commit := trace.SourceURL(lib.Source.Git.URL) + "@" + lib.Source.Git.Revision
	cfg := filepath.Join(dataDir, server.ClientConfigName)
	traced(t, cfg, func(r *trace.Result) bool { return has(r, lineage.KindCommit, commit) }, "up", "release/"+o.Release, "-n", Namespace)
	staticDst := "static:" + ManagedNamespace + "/" + Application + "/libgreet"
	traced(t, cfg, func(r *trace.Result) bool {
		return has(r, lineage.KindRelease, o.Release) && has(r, lineage.KindDestination, staticDst)
	}, "down", commit)
}

// traced runs `kiln trace ARGS -o json` until want holds (the index follows
// the factory asynchronously) or a deadline passes.
func traced(t *testing.T, cfg string, want func(*trace.Result) bool, args ...string) {
	t.Helper()
	var out bytes.Buffer
	deadline := time.Now().Add(30 * time.Second)
	for {
		out.Reset()
		root := cli.NewRootCommand()
		root.SetArgs(append([]string{"--config", cfg, "trace"}, append(args, "-o", "json")...))
		root.SetOut(&out)
		root.SetErr(&out)
		var r trace.Result
		if root.Execute() == nil && json.Unmarshal(out.Bytes(), &r) == nil && want(&r) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("kiln trace %v never showed what was expected:\n%s", args, out.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func has(r *trace.Result, kind lineage.NodeKind, key string) bool {
	return slices.ContainsFunc(r.Nodes, func(n trace.ResultNode) bool { return n.Kind == kind && n.Key == key })
}
