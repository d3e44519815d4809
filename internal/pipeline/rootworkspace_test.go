package pipeline

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRootWorkspaceIsTheWritableRoot: a task annotated
// kiln.dev/root-workspace runs its steps with the workspace as their root
// filesystem, writable (what a bootstrap's second stage needs), and not the
// step image's.
func TestRootWorkspaceIsTheWritableRoot(t *testing.T) {
	t.Parallel()
	r := bubblewrap(t)
	bb, err := exec.LookPath("busybox")
	if err != nil || exec.Command("ldd", bb).Run() == nil {
		t.Skip("no static busybox")
	}
	doc := header + `
  workspaces: [{name: tree}]
  tasks:
    - name: make
      taskSpec:
        workspaces: [{name: tree}]
        steps:
          - image: host
            script: |
              T=$(workspaces.tree.path)
              mkdir -p $T/bin $T/etc $T/var
              cp ` + bb + ` $T/bin/busybox
              ln -s busybox $T/bin/sh
    - name: inside
      runAfter: [make]
      taskSpec:
        metadata: {annotations: {kiln.dev/root-workspace: tree}}
        workspaces: [{name: tree}]
        steps:
          - image: host
            script: |
              test ! -e /usr/bin/env
              /bin/busybox echo written > /etc/from-inside
              /bin/busybox mkdir /var/lib
`
	p, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := Compile(p, nil, Context{PipelineRunName: "r"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var log strings.Builder
	res, err := Run(context.Background(), plan, RunOptions{Runner: r, WorkspaceDir: dir, Log: &log})
	if err != nil || res.Err() != nil {
		t.Fatalf("run: %v %+v\n%s", err, res, log.String())
	}
	got, err := os.ReadFile(filepath.Join(dir, "tree", "etc", "from-inside"))
	if err != nil || string(got) != "written\n" {
		t.Fatalf("the step did not write into its root workspace: %q %v\n%s", got, err, log.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "tree", "var", "lib")); err != nil {
		t.Fatal(err)
	}
}

func TestRootWorkspaceMustBeATaskWorkspace(t *testing.T) {
	for ann, want := range map[string]string{
		"nope": `annotation kiln.dev/root-workspace names no workspace "nope" of the task`,
		"ro":   `annotation kiln.dev/root-workspace: workspace "ro" is read-only`,
	} {
		doc := header + `
  workspaces: [{name: w}]
  tasks:
    - name: t
      workspaces: [{name: ro, workspace: w}]
      taskSpec:
        metadata: {annotations: {kiln.dev/root-workspace: ` + ann + `}}
        workspaces: [{name: ro, readOnly: true}]
        steps: [{image: host, script: "true"}]
`
		p, err := Parse([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Compile(p, nil, Context{}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", ann, err, want)
		}
	}
}
