package pipeline

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kilnbuild/kiln/internal/golden"
)

// testContext is the Context of the golden plans.
var testContext = Context{
	PipelineRunName: "run-1", Namespace: "team-a", UID: "0b9c-uid",
	GitURL: "https://git.example.com/team-a/greet.git", GitRevision: "main",
	GitCommit: "3f2a9c1", BuildCounter: 7,
}

func compileFile(t *testing.T, file string, params map[string]any) (*Plan, error) {
	t.Helper()
	p, _, err := ParseFiles(file)
	if err != nil {
		t.Fatalf("parsing: %v", err)
	}
	return Compile(p, params, testContext)
}

func planJSON(t *testing.T, p *Plan) string {
	t.Helper()
	j, err := p.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := json.Indent(&b, j, "", "  "); err != nil {
		t.Fatal(err)
	}
	return b.String() + "\n"
}

// TestCompileGolden compiles testdata/compile/valid/NAME.yaml and compares
// the plan with NAME.plan.json, and its digest with the first line of
// NAME.digest.
func TestCompileGolden(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob("testdata/compile/valid/*.yaml")
	if len(files) < 6 {
		t.Fatalf("found %d fixtures", len(files))
	}
	for _, f := range files {
		name := strings.TrimSuffix(f, ".yaml")
		t.Run(filepath.Base(name), func(t *testing.T) {
			t.Parallel()
			plan, err := compileFile(t, f, nil)
			if err != nil {
				t.Fatal(err)
			}
			golden.CheckString(t, name+".plan.json", planJSON(t, plan))
			golden.CheckString(t, name+".digest", plan.Digest()+"\n")
		})
	}
}

// TestCompileInvalid: testdata/compile/invalid/NAME.yaml must fail to
// compile with the text of NAME.err.
func TestCompileInvalid(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob("testdata/compile/invalid/*.yaml")
	if len(files) < 20 {
		t.Fatalf("found %d fixtures", len(files))
	}
	for _, f := range files {
		name := strings.TrimSuffix(f, ".yaml")
		t.Run(filepath.Base(name), func(t *testing.T) {
			t.Parallel()
			_, err := compileFile(t, f, nil)
			if err == nil {
				t.Fatal("compiled without error")
			}
			golden.CheckString(t, name+".err", err.Error()+"\n")
		})
	}
}

func TestCompileErrorMessages(t *testing.T) {
	t.Parallel()
	cases := []struct{ file, want string }{
		{"cycle", `pipeline "p": spec.tasks: tasks form a cycle: a -> c -> b -> a (A -> B: A runs after B or uses its results)`},
		{"cycle-results", `tasks form a cycle: a -> b -> a`},
		{"result-unknown-result", `$(tasks.a.results.ouput): task "a" has no result "ouput" (results: out)`},
		{"result-unknown-task", `$(tasks.nope.results.y): no task "nope" in spec.tasks`},
		{"prefetch-uses-results", `a prefetch step runs before every task: it cannot use task results`},
		{"status-outside-finally", `task statuses can be used only in finally tasks and pipeline results`},
	}
	for _, c := range cases {
		_, err := compileFile(t, "testdata/compile/invalid/"+c.file+".yaml", nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v\nwant it to contain %s", c.file, err, c.want)
		}
	}
}

func TestCompileOrderIsStable(t *testing.T) {
	t.Parallel()
	plan, err := compileFile(t, "testdata/compile/valid/diamond-order.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, task := range plan.Tasks {
		got = append(got, task.Name)
	}
	// e and a have no dependencies: e is declared first.
	if want := []string{"e", "a", "c", "b", "d"}; !slices.Equal(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
	if d := plan.Task("d"); !slices.Equal(d.RunAfter, []string{"b", "c"}) {
		t.Errorf("d runs after %v", d.RunAfter)
	}
	if b := plan.Task("b"); !slices.Equal(b.RunAfter, []string{"a"}) {
		t.Errorf("b runs after %v (a result reference is a dependency)", b.RunAfter)
	}
}

func TestCompileParams(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		params map[string]any
		want   string // the flavour written by the step
		err    string
	}{
		{"PipelineRun value beats default", nil, "echo small > flavour", ""},
		{"given value beats PipelineRun", map[string]any{"flavour": "huge"}, "echo huge > flavour", ""},
		{"undeclared", map[string]any{"colour": "red"}, "", `params.colour: not declared by the pipeline (declared: flavour)`},
		{"wrong type", map[string]any{"flavour": []string{"a"}}, "", `params.flavour: expected a string, got an array`},
	}
	for _, c := range cases {
		plan, err := compileFile(t, "testdata/compile/valid/pipelinerun-timeouts.yaml", c.params)
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s: got %v, want %q", c.name, err, c.err)
		case c.err == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.err == "" && plan.Tasks[0].Steps[0].Script != c.want:
			t.Errorf("%s: script %q, want %q", c.name, plan.Tasks[0].Steps[0].Script, c.want)
		}
	}
}

func TestCompileArrayParamFromJSONString(t *testing.T) {
	t.Parallel()
	plan, err := compileFile(t, "testdata/compile/valid/catalog-script.yaml", map[string]any{"targets": `["install"]`})
	if err != nil {
		t.Fatal(err)
	}
	if got := plan.Task("build").Steps[0].Args; !slices.Equal(got, []string{"install", "PREFIX=/usr"}) {
		t.Errorf("make args %q", got)
	}
}

func TestDigest(t *testing.T) {
	t.Parallel()
	file := "testdata/compile/valid/catalog-script.yaml"
	a, _ := compileFile(t, file, nil)
	b, _ := compileFile(t, file, nil)
	if a.Digest() != b.Digest() {
		t.Fatalf("two compiles differ: %s, %s", a.Digest(), b.Digest())
	}
	ja, _ := a.JSON()
	jb, _ := b.JSON()
	if !bytes.Equal(ja, jb) {
		t.Fatal("canonical JSON differs")
	}
	if !strings.HasPrefix(a.Digest(), "sha256:") || len(a.Digest()) != 71 {
		t.Errorf("digest %q", a.Digest())
	}
	c, _ := compileFile(t, file, map[string]any{"targets": []string{"all"}})
	if c.Digest() == a.Digest() {
		t.Error("a different param value gives the same digest")
	}
	// A context variable the plan does not use does not change it.
	p, _, _ := ParseFiles(file)
	other := testContext
	other.PipelineRunName, other.UID, other.BuildCounter = "run-2", "other-uid", 8
	d, _ := Compile(p, nil, other)
	if d.Digest() != a.Digest() {
		t.Error("an unused context variable changed the digest")
	}
	// One it uses does.
	p, _, _ = ParseFiles("testdata/compile/valid/catalog-rpm.yaml")
	e1, _ := Compile(p, nil, testContext)
	e2, _ := Compile(p, nil, other)
	if e1.Digest() == e2.Digest() {
		t.Error("the build counter the rpm release uses does not change the digest")
	}
}

func TestPlanJSONRoundTrip(t *testing.T) {
	t.Parallel()
	plan, err := compileFile(t, "testdata/compile/valid/results-when.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	j, _ := plan.JSON()
	var back Plan
	if err := json.Unmarshal(j, &back); err != nil {
		t.Fatal(err)
	}
	if back.Digest() != plan.Digest() {
		t.Error("a plan read back from its JSON has another digest")
	}
}

func TestCompileWhenStaticAndDynamic(t *testing.T) {
	t.Parallel()
	plan, err := compileFile(t, "testdata/compile/valid/results-when.yaml", map[string]any{"mode": "debug"})
	if err != nil {
		t.Fatal(err)
	}
	if s := plan.Task("release-only").Skip; s != `when "debug" in [release] is false` {
		t.Errorf("release-only skip %q", s)
	}
	if s := plan.Task("debug-only").Skip; s != "" {
		t.Errorf("debug-only skip %q", s)
	}
	if w := plan.Task("publish").When; len(w) != 1 || w[0].Input != "$(tasks.version.results.version)" {
		t.Errorf("publish keeps its runtime when expression: %+v", w)
	}
	if _, err := compileFile(t, "testdata/compile/valid/results-when.yaml", map[string]any{"mode": "fast"}); err == nil ||
		!strings.Contains(err.Error(), `params.mode: "fast" is not one of release, debug`) {
		t.Errorf("enum: %v", err)
	}
}
