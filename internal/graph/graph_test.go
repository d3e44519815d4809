package graph

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestBuildDropsSelfLoopsAndDuplicates(t *testing.T) {
	t.Parallel()
	g := Build([]Edge{{"b", "a"}, {"b", "a"}, {"c", "c"}, {"c", "b"}, {"a", "c"}})
	if !slices.Equal(g.Names(), []string{"a", "b", "c"}) {
		t.Fatalf("names %v", g.Names())
	}
	want := []Edge{{"a", "c"}, {"b", "a"}, {"c", "b"}}
	if got := g.Edges(); !slices.Equal(got, want) {
		t.Fatalf("edges %v, want %v", got, want)
	}
	c, _ := g.ID("c")
	if d := g.Dependents(c); !slices.Equal(PathNames(g, d), []string{"a"}) {
		t.Fatalf("dependents of c: %v", PathNames(g, d))
	}
	if _, ok := g.ID("zzz"); ok {
		t.Fatal("ID of an unknown name succeeded")
	}
}

func TestParseEdgesErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		line int
		msg  string
	}{
		{"a\tb\nab\n", 2, "want two fields separated by a TAB"},
		{"a\tb\tc\n", 1, "got more"},
		{"# x\n\n\tb\n", 3, "empty name"},
		{"a\t \n", 1, "empty name"},
		{"a b\tc\n", 1, "may not contain spaces"}, // a space is not a separator
		{"a b c\n", 1, "want two fields"},
		{"ab\tc d\n", 1, "may not contain spaces"},
	} {
		_, err := ParseEdges(strings.NewReader(tc.in))
		var pe *ParseError
		if !errors.As(err, &pe) || pe.Line != tc.line || !strings.Contains(pe.Msg, tc.msg) {
			t.Errorf("ParseEdges(%q) = %v, want line %d: …%s…", tc.in, err, tc.line, tc.msg)
		}
	}
}

func TestParseEdgesAcceptsVariants(t *testing.T) {
	t.Parallel()
	in := "# header\r\n\r\n a\tb \r\n   \n\t# comment\nc\td" // no final newline
	g, err := ParseEdges(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if got := g.Edges(); !slices.Equal(got, []Edge{{"a", "b"}, {"c", "d"}}) {
		t.Fatalf("edges %v", got)
	}
}

func TestParseDurations(t *testing.T) {
	t.Parallel()
	d, err := ParseDurations(strings.NewReader("# s\na\t1.5\nb\t60\na\t2\n"))
	if err != nil || d["a"] != 2 || d["b"] != 60 || len(d) != 2 {
		t.Fatalf("durations %v, %v", d, err)
	}
	for _, bad := range []string{"a\t0\n", "a\tx\n", "a\t+Inf\n", "a\n", "a\tNaN\n"} {
		if _, err := ParseDurations(strings.NewReader(bad)); err == nil {
			t.Errorf("ParseDurations(%q) accepted", bad)
		}
	}
}

func TestWriteParseRoundTrip(t *testing.T) {
	t.Parallel()
	g, err := Generate(GenerateOptions{Nodes: 2000, Edges: 12000, Cycle: 300, Levels: 12, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteEdges(&buf, g); err != nil {
		t.Fatal(err)
	}
	back, err := ParseEdges(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(back.Names(), g.Names()) || !slices.Equal(back.Edges(), g.Edges()) {
		t.Fatal("graph changed in a write/parse round trip")
	}
}

func TestPlanRejectsUnknownChanged(t *testing.T) {
	t.Parallel()
	g := Build([]Edge{{"a", "b"}})
	_, err := Plan(g, []string{"b", "x", "y"}, nil, 1)
	var un *UnknownNodesError
	if !errors.As(err, &un) || !slices.Equal(un.Names, []string{"x", "y"}) {
		t.Fatalf("err = %v", err)
	}
	if _, err := Plan(g, nil, nil, -1); err == nil {
		t.Fatal("negative workers accepted")
	}
}

// TestLongCycle: a 20,000-member ring must not overflow any stack and its
// cycle path is the whole ring.
func TestLongCycle(t *testing.T) {
	t.Parallel()
	const n = 20000
	edges := make([]Edge, n)
	name := func(i int) string { return fmt.Sprintf("r%05d", i) }
	for i := range n {
		edges[i] = Edge{name(i), name((i + 1) % n)}
	}
	g := Build(edges)
	res, err := Plan(g, []string{name(7)}, nil, 100)
	if err != nil {
		t.Fatal(err)
	}
	if res.Cycles != 1 || res.LargestCycle != n || res.Depth != 1 || res.RebuildCount != n {
		t.Fatalf("cycles %d largest %d depth %d rebuild %d", res.Cycles, res.LargestCycle, res.Depth, res.RebuildCount)
	}
	if p := res.CycleList[0].Path; len(p) != n+1 || p[0] != name(0) || p[1] != name(1) {
		t.Fatalf("cycle path of %d names starting %v", len(p), p[:2])
	}
	if res.Makespan != n/100 {
		t.Fatalf("makespan %v, want %d (members built once each, in parallel)", res.Makespan, n/100)
	}
}
