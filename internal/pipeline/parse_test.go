package pipeline

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/kilnbuild/kiln/internal/golden"
)

// TestParseInvalid checks that every unsupported or unknown field is
// rejected with its path: testdata/parse/invalid/NAME.yaml must fail with
// the text of NAME.err.
func TestParseInvalid(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob("testdata/parse/invalid/*.yaml")
	if len(files) < 30 {
		t.Fatalf("found %d fixtures", len(files))
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, _, err := ParseFiles(f)
			if err == nil {
				t.Fatal("parsed without error")
			}
			golden.CheckString(t, strings.TrimSuffix(f, ".yaml")+".err", err.Error()+"\n")
		})
	}
}

// TestParseErrorsNameFields spot-checks the message shapes the golden files
// hold, so that a careless -update cannot hide a regression.
func TestParseErrorsNameFields(t *testing.T) {
	t.Parallel()
	cases := []struct{ file, want string }{
		{"sidecars", `testdata/parse/invalid/sidecars.yaml (Task "t"): spec.sidecars: not supported by Kiln: steps run one at a time in a sandbox; start helper processes from a step's script`},
		{"retries", `(Pipeline "p"): spec.tasks[0].retries: not supported by Kiln: builds are hermetic`},
		{"step-securitycontext", `spec.steps[0].securityContext: not supported by Kiln`},
		{"compute-cpu", `spec.steps[0].computeResources.limits.cpu: not supported by Kiln: only limits.memory is enforced`},
		{"unknown-field", `spec.steps[0].scritp: unknown field; did you mean "script"?`},
		{"unknown-field-nohint", `spec.steps[0].zzzzzz: unknown field (known fields: args, command, computeResources, displayName, env, image, name, onError, script, timeout, workingDir)`},
		{"workspace-secret", `spec.workspaces[0].secret: not supported by Kiln`},
		{"v1beta1", `apiVersion: "tekton.dev/v1beta1" is not supported by Kiln: write tekton.dev/v1 documents`},
		{"multi-doc", `multi-doc.yaml: document 2 (Task "bad"): spec.sidecars: not supported by Kiln`},
		{"several", `spec.sidecars: not supported by Kiln: steps run one at a time in a sandbox; start helper processes from a step's script; spec.steps[0].imagePullPolicy: not supported`},
		{"wrong-type", `spec.steps[0].args: expected list, got string "--verbose"`},
		{"duplicate-key", `spec.steps[0].script: duplicate field`},
	}
	for _, c := range cases {
		_, _, err := ParseFiles("testdata/parse/invalid/" + c.file + ".yaml")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v\nwant it to contain %s", c.file, err, c.want)
		}
	}
}

func TestParseValid(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob("testdata/parse/valid/*.yaml")
	if len(files) == 0 {
		t.Fatal("no fixtures")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			p, _, err := ParseFiles(f)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Compile(p, nil, Context{}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestParseShapes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, doc, want string
	}{
		{"lone task becomes a pipeline", `
apiVersion: tekton.dev/v1
kind: Task
metadata: {name: hello}
spec:
  params: [{name: who, default: world}, {name: list, type: array, default: []}]
  workspaces: [{name: output}]
  results: [{name: r}]
  steps: [{image: host, script: echo $(params.who)}]
`, "hello"},
		{"JSON input", `{"apiVersion":"tekton.dev/v1","kind":"Task","metadata":{"name":"j"},"spec":{"steps":[{"image":"host","script":"true"}]}}`, "j"},
		{"pipelineRun with pipelineRef", `
apiVersion: tekton.dev/v1
kind: Pipeline
metadata: {name: p}
spec:
  tasks: [{name: a, taskSpec: {steps: [{image: host, script: "true"}]}}]
---
apiVersion: tekton.dev/v1
kind: PipelineRun
metadata: {generateName: run-}
spec:
  pipelineRef: {name: p}
`, "p"},
	}
	for _, c := range cases {
		p, err := Parse([]byte(c.doc))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if p.Name != c.want {
			t.Errorf("%s: name %q, want %q", c.name, p.Name, c.want)
		}
	}
}

func TestParseAssemblyErrors(t *testing.T) {
	t.Parallel()
	task := "apiVersion: tekton.dev/v1\nkind: Task\nmetadata: {name: %s}\nspec: {steps: [{image: host, script: 'true'}]}\n"
	cases := []struct{ name, doc, want string }{
		{"two tasks, no pipeline", strings.ReplaceAll(task, "%s", "a") + "---\n" + strings.ReplaceAll(task, "%s", "b"),
			"no pipeline found: expected a Pipeline, a PipelineRun or a single Task, found 2 Tasks"},
		{"duplicate task", strings.ReplaceAll(task, "%s", "a") + "---\n" + strings.ReplaceAll(task, "%s", "a"),
			`Task "a": defined twice (also in inline pipeline)`},
		{"missing name", strings.ReplaceAll(task, "name: %s", "labels: {}"), `Task "": metadata.name: required`},
		{"missing pipeline", "apiVersion: tekton.dev/v1\nkind: PipelineRun\nmetadata: {name: r}\nspec: {pipelineRef: {name: nope}}\n",
			`PipelineRun "r": spec.pipelineRef.name: no Pipeline "nope" in the files`},
		{"empty", "", "no pipeline found"},
		{"not an object", "- a\n- b\n", "expected object with apiVersion, kind and metadata, got list"},
	}
	for _, c := range cases {
		_, err := Parse([]byte(c.doc))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.name, err, c.want)
		}
	}
}
