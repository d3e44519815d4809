package demo

import "fmt"

// Names the demo's manifest uses.
const (
	// Namespace is the tenant namespace of the demo application.
	Namespace = "demo"
	// ManagedNamespace is the release team's namespace the demo releases
	// into.
	ManagedNamespace = "demo-releases"
	// Application is the demo application.
	Application = "greet"
	// Scenario is the demo's IntegrationTestScenario.
	Scenario = "smoke"
	// ReleasePlan is the demo's (auto-release) plan.
	ReleasePlan = "publish"
)

// smokePipeline is the integration test: for each component of the
// snapshot under test (its artifacts are read-only under /kiln/deps), it
// checks that the artifact works, and reports the counts in TEST_OUTPUT.
const smokePipeline = `apiVersion: tekton.dev/v1
kind: Pipeline
metadata:
  name: smoke
spec:
  description: >-
    Checks the snapshot's artifacts: a program links against libgreet and
    greets, greet-cli runs and greets, the docs are HTML pages.
  params:
    - name: SNAPSHOT
      type: string
      description: The snapshot under test (JSON); Kiln passes it.
  results:
    - name: TEST_OUTPUT
      value: $(tasks.check.results.TEST_OUTPUT)
  tasks:
    - name: check
      params:
        - name: snapshot
          value: $(params.SNAPSHOT)
      taskSpec:
        params:
          - name: snapshot
        results:
          - name: TEST_OUTPUT
        steps:
          - name: check
            image: host
            env:
              - name: SNAPSHOT
                value: $(params.snapshot)
            script: |
              #!/bin/sh
              ok=0 failed=0 tested=""
              pass() { ok=$((ok + 1)); echo "PASS: $*"; }
              fail() { failed=$((failed + 1)); echo "FAIL: $*"; }
              has() { echo "$SNAPSHOT" | grep -q "\"name\":\"$1\"" && [ -d "/kiln/deps/$1" ] && tested="$tested $1"; }
              if has libgreet; then
                lib=/kiln/deps/libgreet/out
                if [ -f $lib/lib/libgreet.so.1 ] && [ -f $lib/include/greet.h ]; then
                  pass "libgreet has lib/libgreet.so.1 and include/greet.h"
                else
                  fail "libgreet lacks lib/libgreet.so.1 or include/greet.h"
                fi
                cat > /tmp/use.c <<'EOF'
              #include <stdio.h>
              #include "greet.h"
              int main(void) { puts(greet("Kiln")); return 0; }
              EOF
                if cc -I$lib/include -o /tmp/use /tmp/use.c $lib/lib/libgreet.so.1 &&
                   [ "$(LD_LIBRARY_PATH=$lib/lib /tmp/use)" = "Hello, Kiln!" ]; then
                  pass "a program linked against libgreet.so.1 greets"
                else
                  fail "a program linked against libgreet.so.1 does not greet"
                fi
              fi
              if has greet-cli; then
                got=$(/kiln/deps/greet-cli/greet-cli Kiln 2>&1)
                if [ "$got" = "Hello, Kiln!" ]; then pass "greet-cli Kiln says $got"; else fail "greet-cli Kiln says '$got'"; fi
              fi
              if has greet-docs; then
                if grep -q '<html>' /kiln/deps/greet-docs/index.html && grep -q 'Greet' /kiln/deps/greet-docs/index.html &&
                   grep -q '<html>' /kiln/deps/greet-docs/usage.html; then
                  pass "greet-docs has index.html and usage.html"
                else
                  fail "greet-docs lacks index.html or usage.html"
                fi
              fi
              result=SUCCESS
              if [ $failed -gt 0 ] || [ $ok -eq 0 ]; then result=FAILURE; fi
              printf '{"result":"%s","successes":%d,"failures":%d,"warnings":0,"note":"tested:%s"}' \
                $result $ok $failed "$tested" > $(results.TEST_OUTPUT.path)
`

// Manifest is the demo's namespaces, application, components, test
// scenario and release configuration, pointing at the repositories. It
// creates a managed namespace, so a cluster admin must apply it.
func Manifest(urls map[string]string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata:
  name: demo
---
apiVersion: kiln.dev/v1alpha1
kind: Application
metadata: {name: greet, namespace: demo}
spec:
  description: "The Kiln demo: a C library, a Go CLI and docs, built from local git repositories."
---
apiVersion: kiln.dev/v1alpha1
kind: Component
metadata: {name: libgreet, namespace: demo}
spec:
  application: greet
  source: {git: {url: %q}}
  build:
    pipelineRef: script
    pollInterval: 5s
    params:
      - {name: image, value: host}
      - {name: outputs, value: '["out/lib", "out/include"]'}
---
apiVersion: kiln.dev/v1alpha1
kind: Component
metadata: {name: greet-cli, namespace: demo}
spec:
  application: greet
  source: {git: {url: %q}}
  build:
    pipelineRef: go
    pollInterval: 5s
    params:
      - {name: image, value: host}
---
apiVersion: kiln.dev/v1alpha1
kind: Component
metadata: {name: greet-docs, namespace: demo}
spec:
  application: greet
  source: {git: {url: %q}}
  build:
    pollInterval: 5s
%s`, urls["libgreet"], urls["greet-cli"], urls["greet-docs"], releaseManifest(urls[TestsRepo.Name]))
}

// releaseManifest: every snapshot of greet is tested by smoke; one that
// passes is released automatically (the plan's auto-release label
// defaults to "true") into demo-releases, after the policy, by the
// built-in publish-static pipeline.
func releaseManifest(testsURL string) string {
	return fmt.Sprintf(`---
apiVersion: kiln.dev/v1alpha1
kind: IntegrationTestScenario
metadata: {name: smoke, namespace: demo}
spec:
  application: greet
  resolverRef:
    resolver: git
    params:
      - {name: url, value: %q}
      - {name: revision, value: main}
      - {name: pathInRepo, value: .tekton/smoke.yaml}
---
apiVersion: v1
kind: Namespace
metadata:
  name: demo-releases
spec:
  type: managed
---
apiVersion: kiln.dev/v1alpha1
kind: Policy
metadata: {name: release, namespace: demo-releases}
spec:
  description: What a greet snapshot must satisfy to be published.
  sources:
    - name: kiln
      policy: [kiln://rules]
      config:
        # @minimal: signed by this Kiln, SLSA provenance from its builder
        # with the pipeline and the exact commit, an SBOM, tests passed.
        # Not @slsa3: its builder.isolated_steps rightly flags steps run on
        # the "host" image, which the demo uses (no base images offline).
        include: ["@minimal"]
      ruleData:
        required_test_scenarios: [smoke]
---
apiVersion: kiln.dev/v1alpha1
kind: ReleasePlanAdmission
metadata: {name: greet, namespace: demo-releases}
spec:
  origin: demo
  applications: [greet]
  policy: release
  pipeline:
    pipelineRef:
      resolver: catalog
      params:
        - {name: name, value: publish-static}
  data:
    # Files go to DATA_DIR/repos/demo-releases/greet.
    static: {path: greet}
---
apiVersion: kiln.dev/v1alpha1
kind: ReleasePlan
metadata: {name: publish, namespace: demo}
spec:
  application: greet
  target: demo-releases
`, testsURL)
}
