package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The crash scenario's application: eleven components in a dependency
// graph four levels deep, built by shell scripts in the sandbox. Each
// writes out/<name>.txt from its dependencies' files, so a change of base
// reaches everything that depends on it — except through lib2, whose
// output ignores its input (early cutoff stops the cascade there).
const (
	crashNS      = "crash"
	crashManaged = "crash-releases"
	crashApp     = "shop"
)

type crashComponent struct {
	name     string
	requires []string
	script   string // "" derives the output from the requirements
}

var crashComponents = []crashComponent{
	{name: "base", script: "mkdir -p out; cat VERSION > out/base.txt"},
	{name: "lib1", requires: []string{"base"}},
	{name: "lib2", requires: []string{"base"}, script: "mkdir -p out; echo lib2 > out/lib2.txt"},
	{name: "mid1", requires: []string{"lib1"}},
	{name: "mid2", requires: []string{"lib1", "lib2"}},
	{name: "flaky", requires: []string{"lib1"}},
	{name: "top1", requires: []string{"mid1"}},
	{name: "top2", requires: []string{"mid2", "flaky"}},
	{name: "top3", requires: []string{"flaky"}},
	{name: "app", requires: []string{"top1", "top2"}},
	{name: "tool", requires: []string{"base"}},
}

// failingScript is flaky's script while the scenario wants it to fail.
const failingScript = "echo failing on purpose >&2; exit 1"

func (c crashComponent) buildScript() string {
	if c.script != "" {
		return c.script
	}
	var b strings.Builder
	b.WriteString("mkdir -p out; : > out/" + c.name + ".txt")
	for _, r := range c.requires {
		fmt.Fprintf(&b, "; cat /kiln/deps/%s/out/%s.txt >> out/%s.txt", r, r, c.name)
	}
	fmt.Fprintf(&b, "; echo %s >> out/%s.txt", c.name, c.name)
	return b.String()
}

// crashRepos creates one git repository per component and one holding the
// test and release pipelines, with fixed dates so that every run of the
// scenario has the same commits. It returns file:// URLs by name and a
// function that commits a new VERSION to base.
func crashRepos(t *testing.T, dir string) (map[string]string, func(version string)) {
	t.Helper()
	urls := map[string]string{}
	for _, c := range crashComponents {
		files := map[string]string{"README": c.name + "\n"}
		if c.name == "base" {
			files["VERSION"] = "1\n"
		}
		urls[c.name] = fixedRepo(t, filepath.Join(dir, c.name), files)
	}
	tests := map[string]string{}
	for _, f := range []string{"smoke.yaml", "note.yaml"} {
		b, err := os.ReadFile(filepath.Join("testdata", "crash", f))
		if err != nil {
			t.Fatal(err)
		}
		tests[".tekton/"+f] = string(b)
	}
	urls["tests"] = fixedRepo(t, filepath.Join(dir, "tests"), tests)
	bump := func(version string) {
		commitFiles(t, filepath.Join(dir, "base"), map[string]string{"VERSION": version + "\n"}, "version "+version)
	}
	return urls, bump
}

func fixedRepo(t *testing.T, dir string, files map[string]string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	gitIn(t, dir, "init", "-q", "-b", "main")
	commitFiles(t, dir, files, "initial")
	return "file://" + dir
}

func commitFiles(t *testing.T, dir string, files map[string]string, msg string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gitIn(t, dir, "add", "-A")
	gitIn(t, dir, "commit", "-q", "-m", msg)
}

func gitIn(t *testing.T, dir string, args ...string) {
	t.Helper()
	const date = "2026-01-01T00:00:00Z"
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=kiln", "GIT_AUTHOR_EMAIL=kiln@example.com",
		"GIT_COMMITTER_NAME=kiln", "GIT_COMMITTER_EMAIL=kiln@example.com", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_DATE="+date, "GIT_COMMITTER_DATE="+date, "HOME="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v in %s: %v\n%s", args, dir, err, out)
	}
}

// crashManifest is the scenario's namespaces, application, components,
// test scenario and auto-release through a managed namespace with a
// policy and all three release pipelines (tenant, managed, final).
func crashManifest(urls map[string]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `apiVersion: v1
kind: Namespace
metadata: {name: %[1]s}
---
apiVersion: kiln.dev/v1alpha1
kind: Application
metadata: {name: %[2]s, namespace: %[1]s}
`, crashNS, crashApp)
	for _, c := range crashComponents {
		b.WriteString(componentYAML(c, c.buildScript(), urls[c.name]))
	}
	fmt.Fprintf(&b, `---
apiVersion: kiln.dev/v1alpha1
kind: IntegrationTestScenario
metadata: {name: smoke, namespace: %[1]s}
spec:
  application: %[2]s
  resolverRef:
    resolver: git
    params:
      - {name: url, value: %[3]q}
      - {name: pathInRepo, value: .tekton/smoke.yaml}
---
apiVersion: v1
kind: Namespace
metadata: {name: %[4]s}
spec: {type: managed}
---
apiVersion: kiln.dev/v1alpha1
kind: Policy
metadata: {name: release, namespace: %[4]s}
spec:
  sources:
    - name: kiln
      policy: [kiln://rules]
      config: {include: ["@minimal"]}
      ruleData: {required_test_scenarios: [smoke]}
---
apiVersion: kiln.dev/v1alpha1
kind: ReleasePlanAdmission
metadata: {name: %[2]s, namespace: %[4]s}
spec:
  origin: %[1]s
  applications: [%[2]s]
  policy: release
  pipeline:
    pipelineRef:
      resolver: catalog
      params: [{name: name, value: publish-static}]
  data: {static: {path: %[2]s}}
---
apiVersion: kiln.dev/v1alpha1
kind: ReleasePlan
metadata: {name: publish, namespace: %[1]s}
spec:
  application: %[2]s
  target: %[4]s
  tenantPipeline:
    pipelineRef:
      resolver: git
      params:
        - {name: url, value: %[3]q}
        - {name: pathInRepo, value: .tekton/note.yaml}
  finalPipeline:
    pipelineRef:
      resolver: git
      params:
        - {name: url, value: %[3]q}
        - {name: pathInRepo, value: .tekton/note.yaml}
`, crashNS, crashApp, urls["tests"], crashManaged)
	return b.String()
}

func componentYAML(c crashComponent, script, url string) string {
	requires := ""
	if len(c.requires) > 0 {
		requires = "\n    requires: [" + strings.Join(c.requires, ", ") + "]"
	}
	return fmt.Sprintf(`---
apiVersion: kiln.dev/v1alpha1
kind: Component
metadata: {name: %s, namespace: %s}
spec:
  application: %s
  source: {git: {url: %q}}
  build:
    pipelineRef: script
    pollInterval: 5s%s
    params:
      - {name: image, value: host}
      - {name: outputs, value: '["out"]'}
      - {name: script, value: %q}
`, c.name, crashNS, crashApp, url, requires, script)
}
