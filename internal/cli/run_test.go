package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kilnbuild/kiln/internal/pipeline/pipelinetest"
	"github.com/kilnbuild/kiln/internal/sandbox"
)

const runPipeline = `apiVersion: tekton.dev/v1
kind: Pipeline
metadata: {name: hello}
spec:
  params:
    - {name: who, default: world}
  workspaces: [{name: source}, {name: output}]
  tasks:
    - name: build
      taskRef: {name: script}
      params:
        - {name: image, value: host}
        - {name: script, value: "echo hello $(params.who) > hello.txt; cat hello.txt"}
        - {name: outputs, value: [hello.txt]}
    - name: check
      runAfter: [build]
      taskSpec:
        steps:
          - {name: verify, image: host, script: "exit $(params.code)"}
        params: [{name: code}]
      params: [{name: code, value: $(params.code)}]
  finally:
    - name: done
      taskSpec:
        steps: [{name: say, image: host, script: echo done}]
`

// runRepo writes a repository with .kiln/pipeline.yaml (with a "code"
// param deciding the check's exit code) and returns its directory.
func runRepo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	doc := strings.Replace(runPipeline, "    - {name: who, default: world}\n", "    - {name: who, default: world}\n    - {name: code, default: \"0\"}\n", 1)
	if err := os.MkdirAll(filepath.Join(dir, ".kiln"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".kiln", "pipeline.yaml"), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// kilnRun runs `kiln run` with the fake runner.
func kilnRun(t *testing.T, args ...string) result {
	t.Helper()
	return kilnRunWith(t, []Option{WithRunner(func() (sandbox.Runner, error) { return &pipelinetest.FakeRunner{}, nil })}, args...)
}

// kilnRunWith runs `kiln run` with a root command made with opts.
func kilnRunWith(t *testing.T, opts []Option, args ...string) result {
	t.Helper()
	cmd := NewRootCommand(opts...)
	cmd.SetArgs(append([]string{"run"}, args...))
	var stdout, stderr bytes.Buffer
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	err := cmd.ExecuteContext(context.Background())
	return result{out: stdout.String(), err: stderr.String(), code: err}
}

var durations = regexp.MustCompile(`\b\d+(\.\d+)?(ms|s|µs)\b`)

func TestRunCommand(t *testing.T) {
	dir := runRepo(t)
	ws := filepath.Join(dir, "build") // inside the source: not copied into itself
	r := kilnRun(t, "--workspace", ws, "--param", "who=kiln", dir).must(t)
	for _, want := range []string{
		"pipeline hello from .kiln/pipeline.yaml, plan sha256:",
		"workspace " + ws + "\n",
		"[build/build] hello kiln\n",
		"[build/copy-outputs] output: hello.txt\n",
		"[done/say] done\n",
		"output: " + filepath.Join(ws, "output") + "\n",
		"pipeline hello succeeded in ",
	} {
		if !strings.Contains(r.out, want) {
			t.Errorf("missing %q in:\n%s", want, r.out)
		}
	}
	start := strings.Index(r.out, "TASK")
	table := durations.ReplaceAllString(r.out[start:start+strings.Index(r.out[start:], "output: ")], "D")
	table = regexp.MustCompile(` +\n`).ReplaceAllString(table, "\n")
	want := "TASK             STEP           STATUS      DURATION   REASON\n" +
		"build            build          Succeeded   D\n" +
		"build            copy-outputs   Succeeded   D\n" +
		"check            verify         Succeeded   D\n" +
		"done (finally)   say            Succeeded   D\n"
	if table != want {
		t.Errorf("summary:\n%s\nwant:\n%s", table, want)
	}
	if got, _ := os.ReadFile(filepath.Join(ws, "output", "hello.txt")); string(got) != "hello kiln\n" {
		t.Errorf("output file %q", got)
	}
}

func TestRunCommandFailure(t *testing.T) {
	dir := runRepo(t)
	r := kilnRun(t, "--workspace", t.TempDir(), "-p", "code=4", dir)
	if r.code == nil || r.code.Error() != "pipeline hello failed: task check: step verify: exit code 4" {
		t.Fatalf("error %v\n%s", r.code, r.out)
	}
	for _, want := range []string{"check            verify         Failed", "exit code 4", "done (finally)   say            Succeeded", "pipeline hello failed in "} {
		if !strings.Contains(r.out, want) {
			t.Errorf("missing %q in:\n%s", want, r.out)
		}
	}
}

func TestRunCommandFileAndPlan(t *testing.T) {
	file := filepath.Join(t.TempDir(), "p.yaml")
	doc := strings.Replace(runPipeline, "    - {name: who, default: world}\n", "    - {name: who, default: world}\n    - {name: code, default: \"0\"}\n", 1)
	if err := os.WriteFile(file, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	r := kilnRunWith(t, []Option{WithRunner(func() (sandbox.Runner, error) { return nil, errors.New("must not be called") })},
		"-f", file, "--plan", "--param", "who=plan").must(t)
	var plan struct {
		Pipeline string
		Params   []struct{ Name, Value string }
	}
	if err := json.Unmarshal([]byte(r.out), &plan); err != nil || plan.Pipeline != "hello" || plan.Params[1].Value != "plan" {
		t.Errorf("plan %+v (%v)\n%s", plan, err, r.out)
	}
}

func TestRunCommandErrors(t *testing.T) {
	dir := runRepo(t)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--param", "nope", dir}, `--param "nope": expected NAME=VALUE`},
		{[]string{"--param", "colour=red", dir}, `params.colour: not declared by the pipeline (declared: who, code)`},
		{[]string{t.TempDir()}, "no pipeline found in "},
		{[]string{"-f", "/nonexistent.yaml"}, "reading pipeline: open /nonexistent.yaml"},
		{[]string{"--ca-file", "/nonexistent.pem", dir}, "--ca-file: open /nonexistent.pem"},
		{[]string{"--ca-file", filepath.Join(dir, ".kiln", "pipeline.yaml"), dir}, "no PEM certificate in it"},
	}
	for _, c := range cases {
		r := kilnRun(t, c.args...)
		if r.code == nil || !strings.Contains(r.code.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.args, r.code, c.want)
		}
	}
}

func TestRunCommandWithoutSandbox(t *testing.T) {
	dir := runRepo(t)
	r := kilnRunWith(t, []Option{WithRunner(func() (sandbox.Runner, error) { return nil, errors.New("no sandbox backend") })}, dir)
	if r.code == nil || r.code.Error() != "kiln run needs a sandbox to run steps in: no sandbox backend" {
		t.Errorf("runner error: %v", r.code)
	}
}
