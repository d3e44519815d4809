package pipeline

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestCatalog(t *testing.T) {
	t.Parallel()
	c := Builtin()
	if got := c.Names(); !slices.Equal(got, []string{"debian", "go", "oci-image", "rpm", "script"}) {
		t.Fatalf("catalog %v", got)
	}
	for _, name := range c.Names() {
		task, _ := c.Task(name)
		if task.Spec.Description == "" {
			t.Errorf("%s: no description", name)
		}
		for _, p := range task.Spec.Params {
			if p.Description == "" || p.Default == nil {
				t.Errorf("%s: param %s needs a description and a default", name, p.Name)
			}
		}
	}
}

// TestCatalogDocumented checks that docs/pipelines.md lists every catalog
// task and param.
func TestCatalogDocumented(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../docs/pipelines.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range Builtin().Names() {
		task, _ := Builtin().Task(name)
		if !strings.Contains(string(doc), "### `"+name+"`") {
			t.Errorf("docs/pipelines.md has no section ### `%s`", name)
		}
		for _, p := range task.Spec.Params {
			if !strings.Contains(string(doc), "| `"+p.Name+"` |") {
				t.Errorf("docs/pipelines.md does not document %s's param %s", name, p.Name)
			}
		}
	}
}

func TestCatalogImageOutputErrors(t *testing.T) {
	t.Parallel()
	cases := []struct{ tasks, want string }{
		{`[{name: img, taskRef: {name: oci-image}, workspaces: [{name: output, workspace: dist}], params: [{name: env, value: [NOEQUALS]}]}]`,
			`spec.tasks[0].params: env "NOEQUALS": expected KEY=VALUE`},
		{`[{name: img, taskRef: {name: oci-image}, params: [{name: prefix, value: relative}]}]`,
			`spec.tasks[0].workspaces: workspace "output" of Task "oci-image" is not bound`},
		{`[{name: a, taskSpec: {results: [{name: r}], steps: [{image: host, script: "true"}]}}, {name: img, taskRef: {name: oci-image}, workspaces: [{name: output, workspace: dist}], params: [{name: cmd, value: ["$(tasks.a.results.r)"]}]}]`,
			`an image output cannot use task results`},
	}
	for _, c := range cases {
		p, err := Parse([]byte(header + "  workspaces: [{name: dist}]\n  tasks: " + c.tasks + "\n"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Compile(p, nil, Context{}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want %q", err, c.want)
		}
	}
}

// catalogRun runs a pipeline of one catalog task on the fake runner (the
// host's tools) over a source tree.
func catalogRun(t *testing.T, task string, params string, files map[string]string) *runBundle {
	t.Helper()
	src := t.TempDir()
	for name, content := range files {
		path := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	doc := header + `
  workspaces: [{name: source}, {name: output}]
  tasks:
    - name: build
      taskRef: {name: ` + task + `}
      params: [{name: image, value: host}` + params + `]
`
	return run(t, context.Background(), doc, RunOptions{SourceDir: src})
}

// stepPath is the PATH of steps (the go task adds /usr/local/go/bin).
const stepPath = "/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// needTool skips the test unless tool is on the PATH steps get.
func needTool(t *testing.T, tool string) {
	t.Helper()
	for _, dir := range filepath.SplitList(stepPath) {
		if _, err := os.Stat(filepath.Join(dir, tool)); err == nil {
			return
		}
	}
	t.Skipf("%s is not installed in %s", tool, stepPath)
}

func TestCatalogScript(t *testing.T) {
	t.Parallel()
	needTool(t, "make")
	makefile := "all:\n\tmkdir -p bin share/doc\n\techo app > bin/app\n\techo doc > share/doc/README\n\techo $(FLAVOUR) > bin/flavour\n"
	b := catalogRun(t, "script", `, {name: context, value: src}, {name: make-args, value: [all, FLAVOUR=spicy]}, {name: outputs, value: ["bin/*", share/doc]}`,
		map[string]string{"src/Makefile": makefile})
	if err := b.res.Err(); err != nil {
		t.Fatalf("%v\n%s", err, b.log)
	}
	for file, want := range map[string]string{"bin/app": "app\n", "bin/flavour": "spicy\n", "share/doc/README": "doc\n"} {
		if got, _ := os.ReadFile(filepath.Join(b.dir, "output", file)); string(got) != want {
			t.Errorf("output %s: %q, want %q", file, got, want)
		}
	}
	b = catalogRun(t, "script", `, {name: script, value: "echo from-script > made"}, {name: outputs, value: [made, missing]}`, nil)
	if b.task(t, "build").Status != StatusFailed || !strings.Contains(b.log.String(), "output missing: no such file") {
		t.Errorf("missing output: %s\n%s", b.task(t, "build").Status, b.log)
	}
	if got, _ := os.ReadFile(filepath.Join(b.dir, "output", "made")); string(got) != "from-script\n" {
		t.Errorf("script output %q", got)
	}
}

func TestCatalogGo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Go program")
	}
	t.Parallel()
	needTool(t, "go")
	b := catalogRun(t, "go", `, {name: packages, value: [./cmd/hi]}, {name: ldflags, value: "-X main.word=kiln"}`, map[string]string{
		"go.mod":         "module example.com/hi\n\ngo 1.22\n",
		"cmd/hi/main.go": "package main\n\nvar word = \"nobody\"\n\nfunc main() { println(\"hi\", word) }\n",
	})
	if err := b.res.Err(); err != nil {
		t.Fatalf("%v\n%s", err, b.log)
	}
	out, err := exec.Command(filepath.Join(b.dir, "output", "hi")).CombinedOutput()
	if string(out) != "hi kiln\n" {
		t.Errorf("binary said %q (%v)", out, err)
	}
	steps := b.task(t, "build").Steps
	if !steps[0].Prefetch || !steps[0].Network || steps[1].Network {
		t.Errorf("steps %+v %+v", steps[0], steps[1])
	}
	if r := b.task(t, "build").Results; len(r) != 1 || !strings.HasPrefix(r[0].Value.StringVal, "go1.") {
		t.Errorf("results %+v", r)
	}
}

const helloSpec = `Name: hello
Version: 1.0
Release: 1
Summary: Says hello
License: MIT
Source0: hello.sh
BuildArch: noarch

%description
Says hello.

%prep

%build

%install
install -D -m 0755 %{SOURCE0} %{buildroot}/usr/bin/hello

%files
/usr/bin/hello
`

func TestCatalogRPM(t *testing.T) {
	t.Parallel()
	needTool(t, "rpmbuild")
	b := catalogRun(t, "rpm", `, {name: release, value: "42"}, {name: define, value: ["dist .kiln"]}`, map[string]string{
		"hello.spec": helloSpec, "hello.sh": "#!/bin/sh\necho hello\n",
	})
	if err := b.res.Err(); err != nil {
		t.Fatalf("%v\n%s", err, b.log)
	}
	for _, f := range []string{"RPMS/noarch/hello-1.0-42.kiln.noarch.rpm", "SRPMS/hello-1.0-42.kiln.src.rpm"} {
		if _, err := os.Stat(filepath.Join(b.dir, "output", f)); err != nil {
			t.Errorf("output: %v", err)
		}
	}
	if r := b.task(t, "build").Results; len(r) != 1 || r[0].Value.StringVal != "hello-1.0-42.kiln.src.rpm" {
		t.Errorf("results %+v", r)
	}
}

// TestCatalogRPMReleaseCounter: without a release, the build counter is
// appended to the spec's Release, so a dependency rebuild sorts newer.
func TestCatalogRPMReleaseCounter(t *testing.T) {
	t.Parallel()
	needTool(t, "rpmbuild")
	b := catalogRun(t, "rpm", `, {name: counter, value: "7"}`, map[string]string{
		"hello.spec": strings.Replace(helloSpec, "Release: 1", "Release: 1%{?dist}", 1), "hello.sh": "#!/bin/sh\necho hello\n",
	})
	if err := b.res.Err(); err != nil {
		t.Fatalf("%v\n%s", err, b.log)
	}
	if _, err := os.Stat(filepath.Join(b.dir, "output", "RPMS/noarch/hello-1.0-1.7.noarch.rpm")); err != nil {
		entries, _ := os.ReadDir(filepath.Join(b.dir, "output", "RPMS/noarch"))
		t.Fatalf("want release 1.7: %v (%v)", err, entries)
	}
}
