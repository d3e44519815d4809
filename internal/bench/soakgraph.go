package bench

import (
	"fmt"
	"strings"
)

// Names the soak creates.
const (
	soakNamespace   = "soak"
	soakApp         = "soak"
	soakReleaseApp  = "soak-release"
	soakManagedNS   = "soak-releases"
	soakScenario    = "check"
	soakReleasePlan = "publish"
)

// soakComponent is one component of the soak: a git repository whose one
// file, input.txt, each commit changes, built by the catalog `script`
// pipeline on the host image (the script, then copying out/).
type soakComponent struct {
	Name     string
	App      string
	Level    string // lib, mid, app (the dependency graph) or rel (tested and released)
	Requires []string
	// Propagate: the output includes the requirements' outputs, so a
	// change of a requirement changes it and flows on to its dependants;
	// otherwise its rebuild has an identical output (early cutoff).
	Propagate bool
	repo      string
	commits   int
}

// soakGraph lays out n components: released of them (rel-*) in an
// application that is integration-tested and auto-released, the rest in
// three levels: libraries, middle components each requiring a library
// (every other one propagating changes), and leaves each requiring one
// middle component (every third leaf two).
func soakGraph(n, released int) []*soakComponent {
	k := n - released
	libs := max(1, k/5)
	mids := min(max(1, 2*k/5), k-libs)
	leaves := k - libs - mids
	var out []*soakComponent
	for i := range libs {
		out = append(out, &soakComponent{Name: fmt.Sprintf("lib-%d", i), App: soakApp, Level: "lib"})
	}
	for i := range mids {
		out = append(out, &soakComponent{Name: fmt.Sprintf("mid-%d", i), App: soakApp, Level: "mid",
			Requires: []string{fmt.Sprintf("lib-%d", i%libs)}, Propagate: i%2 == 0})
	}
	for i := range leaves {
		c := &soakComponent{Name: fmt.Sprintf("app-%d", i), App: soakApp, Level: "app"}
		if mids > 0 {
			c.Requires = []string{fmt.Sprintf("mid-%d", i%mids)}
			if i%3 == 0 && mids > 1 {
				c.Requires = append(c.Requires, fmt.Sprintf("mid-%d", (i+1)%mids))
			}
		}
		out = append(out, c)
	}
	for i := range released {
		out = append(out, &soakComponent{Name: fmt.Sprintf("rel-%d", i), App: soakReleaseApp, Level: "rel"})
	}
	return out
}

// cascade is how many builds a commit to c makes: c's, and the rebuild
// of every dependant of a component whose output changed.
func cascade(comps []*soakComponent, c *soakComponent) int {
	dependants := map[string][]*soakComponent{}
	for _, d := range comps {
		for _, r := range d.Requires {
			dependants[r] = append(dependants[r], d)
		}
	}
	rebuilt := map[string]bool{c.Name: true}
	changed := []*soakComponent{c}
	for len(changed) > 0 {
		x := changed[0]
		changed = changed[1:]
		for _, d := range dependants[x.Name] {
			if !rebuilt[d.Name] {
				rebuilt[d.Name] = true
				if d.Propagate {
					changed = append(changed, d)
				}
			}
		}
	}
	return len(rebuilt)
}

// script is the component's build: copy its input, and for a propagating
// component its requirements' inputs too.
func (c *soakComponent) script() string {
	s := "mkdir -p out && cp input.txt out/"
	if c.Propagate {
		s += " && cat /kiln/deps/*/out/input.txt > out/deps.txt"
	}
	return s
}

// soakManifest is the namespace, applications and components; with
// released components also the IntegrationTestScenario (from testsRepo),
// the managed namespace, its Policy and admission, and an auto-release
// plan publishing to a static repository. Objects come in creation order.
func soakManifest(comps []*soakComponent, testsRepo string) string {
	var b strings.Builder
	apps := []string{soakApp}
	if testsRepo != "" {
		apps = append(apps, soakReleaseApp)
	}
	for _, a := range apps {
		fmt.Fprintf(&b, "---\napiVersion: kiln.dev/v1alpha1\nkind: Application\nmetadata: {name: %s, namespace: %s}\n", a, soakNamespace)
	}
	for _, c := range comps {
		fmt.Fprintf(&b, `---
apiVersion: kiln.dev/v1alpha1
kind: Component
metadata: {name: %s, namespace: %s}
spec:
  application: %s
  source: {git: {url: "file://%s"}}
  build:
    pipelineRef: script
    pollInterval: 0s
    requires: [%s]
    params:
      - {name: image, value: host}
      - {name: script, value: %q}
      - {name: outputs, value: '["out"]'}
`, c.Name, soakNamespace, c.App, c.repo, strings.Join(c.Requires, ", "), c.script())
	}
	if testsRepo == "" {
		return b.String()
	}
	return b.String() + fmt.Sprintf(soakReleaseManifest, testsRepo)
}

// soakReleaseManifest: every Snapshot of soak-release is tested by the
// check scenario and, when it passes, released automatically through
// soak-releases after the @minimal policy, by publish-static.
const soakReleaseManifest = `---
apiVersion: kiln.dev/v1alpha1
kind: IntegrationTestScenario
metadata: {name: check, namespace: soak}
spec:
  application: soak-release
  resolverRef:
    resolver: git
    params:
      - {name: url, value: "file://%s"}
      - {name: revision, value: main}
      - {name: pathInRepo, value: .tekton/check.yaml}
---
apiVersion: v1
kind: Namespace
metadata: {name: soak-releases}
spec: {type: managed}
---
apiVersion: kiln.dev/v1alpha1
kind: Policy
metadata: {name: release, namespace: soak-releases}
spec:
  sources:
    - name: kiln
      policy: [kiln://rules]
      config: {include: ["@minimal"]}
      ruleData: {required_test_scenarios: [check]}
---
apiVersion: kiln.dev/v1alpha1
kind: ReleasePlanAdmission
metadata: {name: soak, namespace: soak-releases}
spec:
  origin: soak
  applications: [soak-release]
  policy: release
  pipeline:
    pipelineRef:
      resolver: catalog
      params:
        - {name: name, value: publish-static}
  data:
    static: {path: soak}
---
apiVersion: kiln.dev/v1alpha1
kind: ReleasePlan
metadata: {name: publish, namespace: soak}
spec:
  application: soak-release
  target: soak-releases
`

// checkPipeline is the integration test: every artifact of the Snapshot
// under test has its input.
const checkPipeline = `apiVersion: tekton.dev/v1
kind: Pipeline
metadata:
  name: check
spec:
  results:
    - name: TEST_OUTPUT
      value: $(tasks.check.results.TEST_OUTPUT)
  tasks:
    - name: check
      taskSpec:
        results:
          - name: TEST_OUTPUT
        steps:
          - name: check
            image: host
            script: |
              #!/bin/sh
              ok=0 failed=0
              for d in /kiln/deps/*; do
                if [ -s "$d/out/input.txt" ]; then ok=$((ok + 1)); else failed=$((failed + 1)); fi
              done
              result=SUCCESS
              if [ $failed -gt 0 ] || [ $ok -eq 0 ]; then result=FAILURE; fi
              printf '{"result":"%s","successes":%d,"failures":%d,"warnings":0}' $result $ok $failed > $(results.TEST_OUTPUT.path)
`
