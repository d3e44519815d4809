package server

import (
	"strings"
	"testing"
)

// TestGroupPlansWithCapabilitiesOfTheCommitItBuilds: a component whose
// new commit starts requiring a library is ordered after that library in
// the next group, gets its artifact as an input, and builds exactly the
// commit the plan read — not the requirements of its last build.
func TestGroupPlansWithCapabilitiesOfTheCommitItBuilds(t *testing.T) {
	t.Parallel()
	requireSandbox(t)
	libURL, commitLib := gitRepo(t, map[string]string{".kiln/capabilities.yaml": "provides: [libx]\n", "VERSION": "1\n"})
	appURL, commitApp := gitRepo(t, map[string]string{"VERSION": "1\n"})
	f, a := buildFactory(t, Config{})
	kiln := kilnCLI(t, f)
	a.must(201, "POST", nsPath("default", "components"), scriptComponent("lib", libURL, map[string]any{
		"params": []any{map[string]any{"name": "image", "value": "host"}, map[string]any{"name": "outputs", "value": `["out"]`},
			map[string]any{"name": "script", "value": "mkdir -p out; cp VERSION out/"}}}))
	a.must(201, "POST", nsPath("default", "components"), scriptComponent("app", appURL, map[string]any{
		"params": []any{map[string]any{"name": "image", "value": "host"}, map[string]any{"name": "outputs", "value": `["out"]`},
			map[string]any{"name": "script", "value": "mkdir -p out; if [ -e /kiln/deps/lib/out/VERSION ]; then echo with-lib > out/app; else echo alone > out/app; fi"}}}))
	waitBuild(t, a, "lib", 1)
	if b := waitBuild(t, a, "app", 1); str(b, "status", "phase") != "Succeeded" {
		t.Fatalf("app: %v", b["status"])
	}
	commitLib(map[string]string{"VERSION": "2\n"})
	head := commitApp(map[string]string{".kiln/capabilities.yaml": "requires: [libx]\n"})

	if out, err := kiln("build", "--app", "greet", "--wait"); err != nil {
		t.Fatalf("kiln build --app greet: %v\n%s", err, out)
	}
	lib, app := latestBuild(t, a, "lib"), latestBuild(t, a, "app")
	if str(app, "spec", "revision") != head {
		t.Fatalf("app built %q, want the head the plan read, %s", str(app, "spec", "revision"), head)
	}
	if timeOf(t, app, "startTime").Before(timeOf(t, lib, "completionTime")) {
		t.Fatal("app started before the library it now requires was built")
	}
	inputs, _ := app["spec"].(map[string]any)["inputs"].([]any)
	if len(inputs) != 1 {
		t.Logf("groups: %s", a.do("GET", nsPath("default", "buildgroups"), nil).Body)
		t.Logf("components: %s", a.do("GET", nsPath("default", "components"), nil).Body)
	}
	if len(inputs) != 1 || !strings.Contains(str(inputs[0].(map[string]any), "digest"), str(lib, "status", "artifact", "digest")) {
		t.Fatalf("app inputs %v, want lib's new artifact %s", inputs, str(lib, "status", "artifact", "digest"))
	}
	if got := pullFile(t, f, str(app, "status", "artifact", "repository")+"@"+str(app, "status", "artifact", "digest"), "out/app"); strings.TrimSpace(got) != "with-lib" {
		t.Fatalf("app's output %q: the library was not in its buildroot", got)
	}
}
