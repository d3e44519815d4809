// Package demo sets up `kiln up --demo`: local git repositories with real
// code (a C library, a Go command-line tool and a documentation bundle)
// and a repository of integration tests; an application with a component
// for each code repository, a test scenario, and a release into a managed
// namespace that publishes a static repository. Follow shows it all live:
// builds, snapshots tested in the sandbox, policy-gated releases.
package demo

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Repo is one generated repository.
type Repo struct {
	Name  string
	Files map[string]string
}

// Repos are the demo's code repositories, one Component each.
var Repos = []Repo{
	{Name: "libgreet", Files: map[string]string{
		"greet.h": "#ifndef GREET_H\n#define GREET_H\nconst char *greet(const char *name);\n#endif\n",
		"greet.c": "#include <stdio.h>\n#include \"greet.h\"\n\nconst char *greet(const char *name) {\n" +
			"\tstatic char buf[256];\n\tsnprintf(buf, sizeof buf, \"Hello, %s!\", name);\n\treturn buf;\n}\n",
		"Makefile": "CFLAGS ?= -O2 -fPIC -Wall\n\nall: out/lib/libgreet.so.1 out/include/greet.h\n\n" +
			"out/lib/libgreet.so.1: greet.c greet.h\n\tmkdir -p out/lib\n" +
			"\t$(CC) $(CFLAGS) -shared -Wl,-soname,libgreet.so.1 -o $@ greet.c\n\tln -sf libgreet.so.1 out/lib/libgreet.so\n\n" +
			"out/include/greet.h: greet.h\n\tmkdir -p out/include\n\tcp greet.h $@\n",
		"README.md": "# libgreet\n\nA tiny C library with a soname, built by Kiln's `script` catalog pipeline (make).\n",
	}},
	{Name: "greet-cli", Files: map[string]string{
		"go.mod":  "module example.com/greet-cli\n\ngo 1.22\n",
		"main.go": "package main\n\nimport (\n\t\"fmt\"\n\t\"os\"\n)\n\nfunc main() {\n\tname := \"world\"\n\tif len(os.Args) > 1 {\n\t\tname = os.Args[1]\n\t}\n\tfmt.Printf(\"Hello, %s!\\n\", name)\n}\n",
	}},
	{Name: "greet-docs", Files: map[string]string{
		".kiln/pipeline.yaml": docsPipeline,
		"index.md":            "# Greet\n\nGreet says hello: as a C library, a command-line tool and these docs.\n",
		"usage.md":            "# Usage\n\n    greet-cli Alice\n    Hello, Alice!\n",
	}},
}

// docsPipeline is a repository-defined pipeline (the third way to say how to
// build, next to catalog references and inline pipelines).
const docsPipeline = `apiVersion: tekton.dev/v1
kind: Pipeline
metadata:
  name: docs
spec:
  workspaces:
    - name: source
    - name: output
  tasks:
    - name: render
      workspaces:
        - name: source
          workspace: source
        - name: output
          workspace: output
      taskSpec:
        workspaces:
          - name: source
          - name: output
        steps:
          - name: html
            image: host
            workingDir: $(workspaces.source.path)
            script: |
              #!/bin/sh
              set -e
              for f in *.md; do
                out="$(workspaces.output.path)/${f%.md}.html"
                { echo "<html><body><pre>"; cat "$f"; echo "</pre></body></html>"; } > "$out"
                echo "rendered $f"
              done
`

// TestsRepo holds the integration test pipeline the demo's
// IntegrationTestScenario resolves (resolver git).
var TestsRepo = Repo{Name: "greet-tests", Files: map[string]string{
	".tekton/smoke.yaml": smokePipeline,
	"README.md": "# greet-tests\n\nIntegration tests of the greet application, run by Kiln against every snapshot\n" +
		"(IntegrationTestScenario `smoke`). The snapshot's artifacts are mounted read-only under /kiln/deps/<component>.\n",
}}

// CreateRepos writes the repositories (Repos and TestsRepo) under dir (one
// git repository each, on branch main) and returns their file:// URLs by
// name. Existing repositories are left as they are.
func CreateRepos(ctx context.Context, dir string) (map[string]string, error) {
	urls := map[string]string{}
	for _, r := range append(append([]Repo(nil), Repos...), TestsRepo) {
		path := filepath.Join(dir, r.Name)
		urls[r.Name] = "file://" + path
		if _, err := os.Stat(filepath.Join(path, ".git")); err == nil {
			continue
		}
		if err := writeRepo(ctx, path, r.Files); err != nil {
			return nil, fmt.Errorf("creating demo repository %s: %w", r.Name, err)
		}
	}
	return urls, nil
}

func writeRepo(ctx context.Context, path string, files map[string]string) error {
	for name, content := range files {
		p := filepath.Join(path, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return err
		}
	}
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "-A"}, {"commit", "-q", "-m", "Initial import"}} {
		if err := Git(ctx, path, args...); err != nil {
			return err
		}
	}
	return nil
}

// Git runs git in dir with a fixed identity and no user configuration.
func Git(ctx context.Context, dir string, args ...string) error {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=Kiln Demo", "GIT_AUTHOR_EMAIL=demo@kiln.invalid",
		"GIT_COMMITTER_NAME=Kiln Demo", "GIT_COMMITTER_EMAIL=demo@kiln.invalid", "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return nil
}
