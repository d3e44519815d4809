package graph

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func addTestdata(f *testing.F, pattern string) {
	f.Helper()
	files, _ := filepath.Glob(pattern)
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
}

// checkGraph: names are sorted and unique, every edge joins two of them,
// no self-loops, no duplicate edges.
func checkGraph(t *testing.T, g *Graph) {
	t.Helper()
	names := g.Names()
	if !slices.IsSorted(names) || len(slices.Compact(slices.Clone(names))) != len(names) {
		t.Fatalf("names not sorted and unique: %q", names)
	}
	edges := g.Edges()
	if len(edges) != g.M() {
		t.Fatalf("%d edges listed, M() = %d", len(edges), g.M())
	}
	for i, e := range edges {
		_, okA := g.ID(e.Dependent)
		_, okB := g.ID(e.Dependency)
		if !okA || !okB || e.Dependent == e.Dependency || (i > 0 && edges[i-1] == e) {
			t.Fatalf("bad edge %+v", e)
		}
	}
}

// FuzzFromDebian: Debian Packages files (control-file stanzas, plain or
// gzip) of any content give a well-formed graph or an error, never a panic.
func FuzzFromDebian(f *testing.F) {
	addTestdata(f, "testdata/debian/Packages*")
	f.Add([]byte("Package: a\nDepends: b (>= 1) | c:any, d\nProvides: e\n\nPackage: b\nPre-Depends: e\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		g, st, err := FromDebian(bytes.NewReader(data))
		if err != nil {
			if err.Error() == "" {
				t.Fatal("error without a message")
			}
			return
		}
		if st.Packages < 0 || st.Virtual < 0 || st.Unresolved < 0 {
			t.Fatalf("stats %+v", st)
		}
		checkGraph(t, g)
	})
}

// FuzzParseEdges: edges files of any content give a well-formed graph or a
// *ParseError with the line at fault.
func FuzzParseEdges(f *testing.F) {
	addTestdata(f, "testdata/*/edges.tsv")
	f.Add([]byte("a\tb\n# comment\n\n b \t c \nc\ta\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := ParseEdges(bytes.NewReader(data))
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Line < 1 || pe.Line > strings.Count(string(data), "\n")+1 {
				t.Fatalf("error %v (%T) does not name a line of the input", err, err)
			}
			return
		}
		checkGraph(t, g)
	})
}
