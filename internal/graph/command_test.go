package graph

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The offline commands end to end: generate writes a graph file, from-debian
// converts Packages files, PlanFiles plans a file.
func TestCommands(t *testing.T) {
	dir := t.TempDir()
	var gen bytes.Buffer
	cmd := NewGenerateCommand()
	cmd.SetArgs([]string{"--nodes", "200", "--edges", "800", "--cycle", "20", "--levels", "5"})
	cmd.SetOut(&gen)
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	edges := filepath.Join(dir, "edges.tsv")
	if err := os.WriteFile(edges, gen.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := PlanFiles(&out, FilePlanOptions{Edges: edges, Workers: 4, Output: "json"}); err != nil {
		t.Fatal(err)
	}
	var res struct{ Nodes, Depth, LargestCycle int }
	if err := json.Unmarshal(out.Bytes(), &res); err != nil || res.Nodes != 200 || res.Depth != 5 || res.LargestCycle != 20 {
		t.Fatalf("plan of the generated graph: %+v (%v)", res, err)
	}
	out.Reset()
	if err := PlanFiles(&out, FilePlanOptions{Edges: edges, Output: "table"}); err != nil || !strings.Contains(out.String(), "nodes          200\n") {
		t.Fatalf("table: %v\n%s", err, out.String())
	}
	var deb, stderr bytes.Buffer
	cmd = NewFromDebianCommand()
	cmd.SetArgs([]string{filepath.Join("testdata", "debian", "Packages")})
	cmd.SetOut(&deb)
	cmd.SetErr(&stderr)
	if err := cmd.Execute(); err != nil || deb.Len() == 0 || !strings.Contains(stderr.String(), " stanzas, ") {
		t.Fatalf("from-debian: %v\n%s", err, stderr.String())
	}
}

func TestPlanFilesErrors(t *testing.T) {
	edges := filepath.Join("testdata", "basic", "edges.tsv")
	for _, c := range []struct {
		o    FilePlanOptions
		want string
	}{
		{FilePlanOptions{Edges: edges, Output: "dot"}, `unknown output format "dot"`},
		{FilePlanOptions{Edges: edges, Output: "json", Workers: -1}, "--workers must be 0"},
		{FilePlanOptions{Edges: "missing.tsv", Output: "json"}, "missing.tsv"},
		{FilePlanOptions{Edges: edges, Output: "json", Changed: []string{"nope"}}, "--changed: "},
	} {
		if err := PlanFiles(&bytes.Buffer{}, c.o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.o, err, c.want)
		}
	}
}
