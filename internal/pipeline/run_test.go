package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kilnbuild/kiln/internal/pipeline/pipelinetest"
	"github.com/kilnbuild/kiln/internal/sandbox"
)

const header = "apiVersion: tekton.dev/v1\nkind: Pipeline\nmetadata: {name: p}\nspec:\n"

func TestRunResultsAndOrder(t *testing.T) {
	t.Parallel()
	b := run(t, context.Background(), header+`
  results:
    - {name: version, value: $(tasks.produce.results.version)}
    - {name: files, value: "$(tasks.produce.results.files[*])"}
  tasks:
    - name: consume
      params:
        - {name: v, value: $(tasks.produce.results.version)}
        - {name: files, value: "$(tasks.produce.results.files[*])"}
        - {name: arch, value: $(tasks.produce.results.meta.arch)}
      taskSpec:
        params: [{name: v}, {name: files, type: array}, {name: arch}]
        steps:
          - {name: show, image: host, command: [echo], args: ["v=$(params.v)", "$(params.files[*])", "arch=$(params.arch)"]}
    - name: produce
      taskSpec:
        results: [{name: version}, {name: files, type: array}, {name: meta, type: object}]
        steps:
          - name: write
            image: host
            script: |
              echo 1.2.3 > $(results.version.path)
              printf '["a b","c"]' > $(results.files.path)
              printf '{"arch":"x86_64"}' > $(results.meta.path)
`, RunOptions{})
	if err := b.res.Err(); err != nil {
		t.Fatalf("%v\n%s", err, b.log)
	}
	calls := b.runner.Calls()
	if len(calls) != 2 || !strings.HasSuffix(calls[0].Step.Command[0], "0-write") {
		t.Fatalf("calls %+v", calls)
	}
	if got := calls[1].Step.Command; !slices.Equal(got, []string{"echo", "v=1.2.3", "a b", "c", "arch=x86_64"}) {
		t.Errorf("consume ran %q", got)
	}
	if !strings.Contains(b.log.String(), "[consume/show] v=1.2.3 a b c arch=x86_64\n") {
		t.Errorf("log:\n%s", b.log)
	}
	want := []NamedValue{{"version", String("1.2.3")}, {"files", Array("a b", "c")}}
	if len(b.res.Results) != 2 || !b.res.Results[0].Value.Equal(want[0].Value) || !b.res.Results[1].Value.Equal(want[1].Value) {
		t.Errorf("pipeline results %+v", b.res.Results)
	}
	if p := b.task(t, "produce"); len(p.Results) != 3 || p.Results[0].Value.StringVal != "1.2.3" {
		t.Errorf("produce results %+v", p.Results)
	}
}

func TestRunParallelism(t *testing.T) {
	t.Parallel()
	doc := header + `
  tasks:
    - {name: a, taskSpec: {steps: [{image: host, script: sleep 0.4}]}}
    - {name: b, taskSpec: {steps: [{image: host, script: sleep 0.4}]}}
    - {name: c, runAfter: [a, b], taskSpec: {steps: [{image: host, script: "true"}]}}
`
	for _, c := range []struct {
		limit   int
		overlap bool
	}{{2, true}, {1, false}} {
		b := run(t, context.Background(), doc, RunOptions{Concurrency: c.limit})
		a, bb, cc := b.task(t, "a"), b.task(t, "b"), b.task(t, "c")
		overlap := bb.Start.Before(a.End) && a.Start.Before(bb.End)
		if overlap != c.overlap {
			t.Errorf("concurrency %d: a %v–%v, b %v–%v: overlap %v", c.limit, a.Start, a.End, bb.Start, bb.End, overlap)
		}
		if cc.Start.Before(a.End) || cc.Start.Before(bb.End) {
			t.Errorf("concurrency %d: c started before a and b ended", c.limit)
		}
	}
}

func TestRunWhen(t *testing.T) {
	t.Parallel()
	b := run(t, context.Background(), header+`
  params: [{name: mode, default: release}]
  tasks:
    - name: check
      taskSpec:
        results: [{name: ok}]
        steps: [{image: host, script: printf no > $(results.ok.path)}]
    - name: guarded
      when: [{input: $(tasks.check.results.ok), operator: in, values: ["yes"]}]
      taskSpec:
        results: [{name: out}]
        steps: [{image: host, script: printf x > $(results.out.path)}]
    - name: uses-result
      params: [{name: x, value: $(tasks.guarded.results.out)}]
      taskSpec:
        params: [{name: x}]
        steps: [{image: host, script: echo $(params.x)}]
    - name: after-only
      runAfter: [guarded]
      taskSpec: {steps: [{image: host, script: echo after}]}
    - name: static
      when: [{input: $(params.mode), operator: notin, values: [release]}]
      taskSpec: {steps: [{image: host, script: echo static}]}
`, RunOptions{})
	b.wantStatus(t, map[string]string{
		"check": StatusSucceeded, "guarded": StatusSkipped, "uses-result": StatusSkipped,
		"after-only": StatusSucceeded, "static": StatusSkipped,
	})
	if r := b.task(t, "guarded").Reason; r != `when "no" in [yes] is false` {
		t.Errorf("guarded reason %q", r)
	}
	if r := b.task(t, "static").Reason; r != `when "release" notin [release] is false` {
		t.Errorf("static reason %q", r)
	}
	if b.res.Status != StatusSucceeded {
		t.Errorf("run %s: %s", b.res.Status, b.res.Reason)
	}
}

func TestRunFinallyAfterFailure(t *testing.T) {
	t.Parallel()
	b := run(t, context.Background(), header+`
  tasks:
    - name: broken
      taskSpec:
        steps:
          - {name: fail, image: host, script: exit 3}
          - {name: never, image: host, script: echo never}
    - {name: next, runAfter: [broken], taskSpec: {steps: [{image: host, script: echo next}]}}
    - {name: other, taskSpec: {steps: [{image: host, script: echo other}]}}
  finally:
    - name: report
      params: [{name: s, value: $(tasks.broken.status)}]
      taskSpec:
        params: [{name: s}]
        steps: [{name: say, image: host, script: 'echo "broken=$(params.s) next=$(tasks.next.status) all=$(tasks.status)"'}]
`, RunOptions{Concurrency: 1})
	b.wantStatus(t, map[string]string{"broken": StatusFailed, "next": StatusNotRun, "other": StatusNotRun, "report": StatusSucceeded})
	if b.res.Status != StatusFailed || b.res.Reason != "task broken: step fail: exit code 3" {
		t.Errorf("run %s: %q", b.res.Status, b.res.Reason)
	}
	if err := b.res.Err(); err == nil || err.Error() != "pipeline p failed: task broken: step fail: exit code 3" {
		t.Errorf("Err() = %v", err)
	}
	steps := b.task(t, "broken").Steps
	if steps[0].ExitCode != 3 || steps[0].Status != StatusFailed || steps[1].Status != StatusSkipped {
		t.Errorf("steps %+v %+v", steps[0], steps[1])
	}
	if !strings.Contains(b.log.String(), "[report/say] broken=Failed next=None all=Failed\n") {
		t.Errorf("log:\n%s", b.log)
	}
	if r := b.task(t, "next").Reason; r != "an earlier task failed" {
		t.Errorf("next reason %q", r)
	}
}

func TestRunTimeouts(t *testing.T) {
	t.Parallel()
	b := run(t, context.Background(), header+`
  tasks:
    - {name: step-timeout, taskSpec: {steps: [{image: host, script: sleep 5, timeout: 200ms}]}}
    - {name: task-timeout, timeout: 300ms, taskSpec: {steps: [{image: host, script: sleep 0.1}, {image: host, script: sleep 5}]}}
  finally:
    - {name: cleanup, taskSpec: {steps: [{image: host, script: echo cleanup}]}}
`, RunOptions{Concurrency: 2})
	b.wantStatus(t, map[string]string{"step-timeout": StatusTimedOut, "task-timeout": StatusTimedOut, "cleanup": StatusSucceeded})
	for _, name := range []string{"step-timeout", "task-timeout"} {
		if d := b.task(t, name).End.Sub(b.task(t, name).Start); d > 3*time.Second {
			t.Errorf("%s ran %v", name, d)
		}
	}
	if s := b.task(t, "task-timeout").Steps; s[0].Status != StatusSucceeded || s[1].Status != StatusTimedOut {
		t.Errorf("task-timeout steps %s, %s", s[0].Status, s[1].Status)
	}
	if b.res.Status != StatusTimedOut {
		t.Errorf("run %s (%s)", b.res.Status, b.res.Reason)
	}
}

func TestRunPipelineTimeoutStillRunsFinally(t *testing.T) {
	t.Parallel()
	b := run(t, context.Background(), `
apiVersion: tekton.dev/v1
kind: PipelineRun
metadata: {name: r}
spec:
  timeouts: {tasks: 300ms, finally: 5s}
  pipelineSpec:
    tasks:
      - {name: slow, taskSpec: {steps: [{image: host, script: sleep 5}]}}
      - {name: later, runAfter: [slow], taskSpec: {steps: [{image: host, script: "true"}]}}
    finally:
      - {name: cleanup, taskSpec: {steps: [{image: host, script: echo cleanup}]}}
`, RunOptions{})
	b.wantStatus(t, map[string]string{"slow": StatusTimedOut, "later": StatusNotRun, "cleanup": StatusSucceeded})
	if r := b.task(t, "later").Reason; r != "the pipeline timed out" {
		t.Errorf("later: %q", r)
	}
}

func TestRunPrefetch(t *testing.T) {
	t.Parallel()
	b := run(t, context.Background(), header+`
  workspaces: [{name: source}]
  tasks:
    - {name: first, taskSpec: {steps: [{name: work, image: host, script: cat $KILN_PREFETCH_DIR/dl.txt}]}}
    - name: build
      runAfter: [first]
      taskSpec:
        metadata: {annotations: {kiln.dev/prefetch: fetch}}
        workspaces: [{name: source}]
        steps:
          - {name: fetch, image: host, script: printf downloaded > /kiln/prefetch/dl.txt}
          - {name: compile, image: host, script: cat /kiln/prefetch/dl.txt}
`, RunOptions{})
	if err := b.res.Err(); err != nil {
		t.Fatalf("%v\n%s", err, b.log)
	}
	var order []string
	for _, c := range b.runner.Calls() {
		name := filepath.Base(c.Step.Command[0])
		order = append(order, name)
		prefetch := name == "0-fetch"
		if c.Step.Network != prefetch {
			t.Errorf("%s: network %v", name, c.Step.Network)
		}
		for _, m := range c.Step.Mounts {
			switch m.Target {
			case PrefetchDir:
				if m.Writable != prefetch {
					t.Errorf("%s: /kiln/prefetch writable %v", name, m.Writable)
				}
			case "/workspace/source":
				if m.Writable == prefetch {
					t.Errorf("%s: source writable %v", name, m.Writable)
				}
			}
		}
	}
	if !slices.Equal(order, []string{"0-fetch", "0-work", "1-compile"}) {
		t.Errorf("order %v", order)
	}
	sum := sha256.Sum256([]byte("downloaded"))
	want := []FileRecord{{Path: "dl.txt", Size: 10, SHA256: hex.EncodeToString(sum[:])}}
	if !slices.Equal(b.res.Prefetched, want) {
		t.Errorf("prefetched %+v", b.res.Prefetched)
	}
	if s := b.task(t, "build").Steps[0]; !s.Prefetch || !s.Network || s.Status != StatusSucceeded {
		t.Errorf("fetch step %+v", s)
	}
}

func TestRunPrefetchFailureStopsEverything(t *testing.T) {
	t.Parallel()
	b := run(t, context.Background(), header+`
  tasks:
    - {name: first, taskSpec: {steps: [{image: host, script: "true"}]}}
    - name: build
      taskSpec:
        metadata: {annotations: {kiln.dev/prefetch: "true"}}
        steps: [{name: fetch, image: host, script: exit 7}]
  finally:
    - {name: f, taskSpec: {steps: [{image: host, script: "true"}]}}
`, RunOptions{})
	b.wantStatus(t, map[string]string{"first": StatusNotRun, "build": StatusFailed, "f": StatusSucceeded})
	if b.res.Reason != "task build: prefetch step fetch: exit code 7" {
		t.Errorf("reason %q", b.res.Reason)
	}
}

func TestRunImages(t *testing.T) {
	t.Parallel()
	rootfs := t.TempDir()
	var mu sync.Mutex
	resolved := map[string]int{}
	resolver := func(image string) (string, string, error) {
		mu.Lock()
		defer mu.Unlock()
		resolved[image]++
		if image == "broken:1" {
			return "", "", errors.New("manifest unknown")
		}
		return rootfs, "sha256:" + strings.Repeat("a", 64), nil
	}
	doc := header + `
  tasks:
    - name: a
      taskSpec:
        steps:
          - {image: "alpine:3.20", script: "true"}
          - {image: "alpine:3.20", script: "true"}
          - {image: host, script: "true"}
    - {name: b, runAfter: [a], taskSpec: {steps: [{image: "broken:1", script: "true"}]}}
`
	b := run(t, context.Background(), doc, RunOptions{ImageResolver: resolver})
	if resolved["alpine:3.20"] != 1 {
		t.Errorf("alpine resolved %d times", resolved["alpine:3.20"])
	}
	want := []ImageUse{{"alpine:3.20", "sha256:" + strings.Repeat("a", 64)}, {"host", ""}}
	if !slices.Equal(b.res.Images, want) {
		t.Errorf("images %+v", b.res.Images)
	}
	calls := b.runner.Calls()
	if calls[0].Step.RootFS != rootfs || calls[2].Step.RootFS != "" {
		t.Errorf("rootfs %q, %q", calls[0].Step.RootFS, calls[2].Step.RootFS)
	}
	if s := b.task(t, "a").Steps[0]; s.ImageDigest != want[0].Digest {
		t.Errorf("step digest %q", s.ImageDigest)
	}
	if s := b.task(t, "b").Steps[0]; s.Status != StatusFailed || s.Reason != "image broken:1: manifest unknown" {
		t.Errorf("broken image step: %s %q", s.Status, s.Reason)
	}
	b = run(t, context.Background(), doc, RunOptions{})
	if s := b.task(t, "a").Steps[0]; !strings.Contains(s.Reason, "this run has no image resolver") {
		t.Errorf("no resolver: %q", s.Reason)
	}
}

func TestRunSecrets(t *testing.T) {
	t.Parallel()
	doc := header + `
  tasks:
    - name: a
      taskSpec:
        steps:
          - name: use
            image: host
            env: [{name: TOKEN, valueFrom: {secretKeyRef: {name: registry, key: token}}}]
            script: echo "token=$TOKEN"
`
	secret := func(_ context.Context, ref SecretRef) (string, error) {
		return ref.Name + "/" + ref.Key + "-value", nil
	}
	b := run(t, context.Background(), doc, RunOptions{Secret: secret})
	if !strings.Contains(b.log.String(), "[a/use] token=registry/token-value\n") {
		t.Errorf("log:\n%s", b.log)
	}
	b = run(t, context.Background(), doc, RunOptions{})
	if r := b.task(t, "a").Reason; r != "step use: env TOKEN: secret registry key token: no secrets are available to this run" {
		t.Errorf("reason %q", r)
	}
}

func TestRunResultProblems(t *testing.T) {
	t.Parallel()
	b := run(t, context.Background(), header+`
  tasks:
    - name: big
      taskSpec:
        results: [{name: r}]
        steps: [{image: host, script: head -c 100 /dev/zero > $(results.r.path)}]
    - name: silent
      taskSpec:
        results: [{name: r}]
        steps: [{image: host, script: "true"}]
    - name: bad-json
      taskSpec:
        results: [{name: list, type: array}]
        steps: [{image: host, script: echo nope > $(results.list.path)}]
    - name: user
      params: [{name: x, value: $(tasks.silent.results.r)}]
      taskSpec:
        params: [{name: x}]
        steps: [{image: host, script: echo $(params.x)}]
`, RunOptions{MaxResultSize: 64, Concurrency: 4})
	b.wantStatus(t, map[string]string{"big": StatusFailed, "silent": StatusSucceeded, "bad-json": StatusFailed})
	if r := b.task(t, "big").Reason; r != "result r: r is larger than the limit of 64 bytes" {
		t.Errorf("big: %q", r)
	}
	if r := b.task(t, "bad-json").Reason; !strings.HasPrefix(r, "result list: expected a JSON array") {
		t.Errorf("bad-json: %q", r)
	}
	// user either never started (a task failed first) or failed on the
	// missing result.
	if u := b.task(t, "user"); u.Status == StatusSucceeded {
		t.Errorf("user: %s", u.Status)
	}
}

func TestRunMissingResultFailsConsumer(t *testing.T) {
	t.Parallel()
	b := run(t, context.Background(), header+`
  tasks:
    - {name: silent, taskSpec: {results: [{name: r}], steps: [{image: host, script: "true"}]}}
    - name: user
      params: [{name: x, value: $(tasks.silent.results.r)}]
      taskSpec: {params: [{name: x}], steps: [{name: s, image: host, script: echo $(params.x)}]}
`, RunOptions{})
	b.wantStatus(t, map[string]string{"silent": StatusSucceeded, "user": StatusFailed})
	if r := b.task(t, "user").Reason; r != "step s: $(tasks.silent.results.r): task silent did not write result r" {
		t.Errorf("reason %q", r)
	}
}

func TestRunOnErrorContinue(t *testing.T) {
	t.Parallel()
	b := run(t, context.Background(), header+`
  tasks:
    - name: a
      taskSpec:
        steps:
          - {name: lint, image: host, script: exit 1, onError: continue}
          - {name: build, image: host, script: echo built}
`, RunOptions{})
	b.wantStatus(t, map[string]string{"a": StatusSucceeded})
	if s := b.task(t, "a").Steps; s[0].Status != StatusFailed || s[0].ExitCode != 1 || s[1].Status != StatusSucceeded {
		t.Errorf("steps %+v, %+v", s[0], s[1])
	}
}

func TestRunSourceAndOutput(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "in.txt"), []byte("source!"), 0o644); err != nil {
		t.Fatal(err)
	}
	doc := header + `
  workspaces: [{name: source}, {name: output}]
  tasks:
    - name: copy
      taskSpec:
        workspaces: [{name: source}, {name: output}]
        steps:
          - image: host
            workingDir: $(workspaces.source.path)
            script: |
              cp in.txt $(workspaces.output.path)/out.txt
              echo changed > in.txt
`
	b := run(t, context.Background(), doc, RunOptions{SourceDir: src})
	if err := b.res.Err(); err != nil {
		t.Fatalf("%v\n%s", err, b.log)
	}
	out := b.res.Outputs
	if len(out) != 1 || out[0].Kind != OutputDirectory || out[0].Path != filepath.Join(b.dir, "output") {
		t.Fatalf("outputs %+v", out)
	}
	if got, _ := os.ReadFile(filepath.Join(out[0].Path, "out.txt")); string(got) != "source!" {
		t.Errorf("output %q", got)
	}
	if got, _ := os.ReadFile(filepath.Join(src, "in.txt")); string(got) != "source!" {
		t.Errorf("the source dir was changed: %q", got)
	}
}

func TestRunCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(500*time.Millisecond, cancel)
	b := run(t, ctx, header+`
  tasks:
    - {name: slow, taskSpec: {steps: [{image: host, script: sleep 5}]}}
`, RunOptions{})
	if b.res.Status != StatusCancelled || b.task(t, "slow").Status != StatusCancelled {
		t.Errorf("run %s, task %s", b.res.Status, b.task(t, "slow").Status)
	}
}

type failingRunner struct{}

func (failingRunner) Name() string { return "failing" }
func (failingRunner) Run(context.Context, sandbox.Step) (sandbox.Result, error) {
	return sandbox.Result{}, errors.New("bwrap: not found")
}

func TestRunRunnerError(t *testing.T) {
	t.Parallel()
	b := run(t, context.Background(), header+`
  tasks:
    - {name: a, taskSpec: {steps: [{name: s, image: host, script: "true"}]}}
`, RunOptions{Runner: failingRunner{}})
	if b.res.Reason != "task a: step s: could not run: bwrap: not found" || b.res.Runner != "failing" {
		t.Errorf("reason %q, runner %q", b.res.Reason, b.res.Runner)
	}
}

func TestRunOptionsRequired(t *testing.T) {
	t.Parallel()
	plan := &Plan{Pipeline: "p"}
	if _, err := Run(context.Background(), plan, RunOptions{WorkspaceDir: t.TempDir()}); err == nil {
		t.Error("no runner: no error")
	}
	if _, err := Run(context.Background(), plan, RunOptions{Runner: &pipelinetest.FakeRunner{}}); err == nil {
		t.Error("no workspace dir: no error")
	}
}

func TestRunStepEnvironment(t *testing.T) {
	t.Parallel()
	b := run(t, context.Background(), header+`
  tasks:
    - name: a
      taskSpec:
        steps: [{name: env, image: host, env: [{name: A, value: one}], script: env | sort}]
`, RunOptions{Env: []string{"LANG=C.UTF-8"}})
	for _, want := range []string{"[a/env] A=one\n", "[a/env] LANG=C.UTF-8\n", "[a/env] KILN_PREFETCH_DIR="} {
		if !strings.Contains(b.log.String(), want) {
			t.Errorf("missing %q in log:\n%s", want, b.log)
		}
	}
	if strings.Contains(b.log.String(), "GOPATH=") && os.Getenv("GOPATH") != "" {
		t.Error("the host environment leaked into the step")
	}
}

func TestRunPipelineResultFromFinally(t *testing.T) {
	t.Parallel()
	b := run(t, context.Background(), header+`
  results: [{name: summary, value: "$(tasks.report.results.text)"}]
  tasks:
    - {name: a, taskSpec: {steps: [{image: host, script: "true"}]}}
  finally:
    - name: report
      taskSpec:
        results: [{name: text}]
        steps: [{image: host, script: 'printf "all $(tasks.status)" > $(results.text.path)'}]
`, RunOptions{})
	if r := b.res.Results; len(r) != 1 || r[0].Value.StringVal != "all Succeeded" {
		t.Errorf("results %+v\n%s", r, b.log)
	}
}
