package graph

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/kilnbuild/kiln/internal/golden"
)

// TestFromDebian converts two small Packages files (the second gzipped):
// versions, ":any" and "[arch]" dropped, first resolvable alternative,
// virtual packages mapped to the smallest provider across files,
// Pre-Depends counted, self-loops dropped.
func TestFromDebian(t *testing.T) {
	t.Parallel()
	main, err := os.Open("testdata/debian/Packages")
	if err != nil {
		t.Fatal(err)
	}
	defer main.Close()
	updates := bytes.NewReader(readFile(t, "testdata/debian/Packages-updates.gz"))
	g, st, err := FromDebian(main, updates)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteEdges(&buf, g); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/debian/expected.tsv", buf.Bytes())
	if want := (DebianStats{Packages: 11, Virtual: 2, Unresolved: 3}); st != want {
		t.Fatalf("stats %+v, want %+v", st, want)
	}
	if _, ok := g.ID("postfix"); !ok {
		t.Fatal("a package without edges should still be a node")
	}
}

func TestFromDebianRejectsLZ4(t *testing.T) {
	t.Parallel()
	_, _, err := FromDebian(strings.NewReader("\x04\x22\x4d\x18rest"))
	if err == nil || !strings.Contains(err.Error(), "lz4 -dc") {
		t.Fatalf("err = %v", err)
	}
}

func TestDebName(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		" libc6 (>= 2.34)":   "libc6",
		"python3:any":        "python3",
		"foo [amd64]":        "foo",
		"bar(<<1)":           "bar",
		"libfoo1:amd64 <!x>": "libfoo1",
		"  ":                 "",
	} {
		if got := debName(in); got != want {
			t.Errorf("debName(%q) = %q, want %q", in, got, want)
		}
	}
}
