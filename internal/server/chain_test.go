package server

import (
	"context"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kilnbuild/kiln/internal/oci"
)

// A real C library with a soname and a header, two programs compiled and
// linked against it, and a bundle of both. Dependencies are detected from
// the RPM spec files (Provides / BuildRequires) and declared for the bundle.
var (
	libgreetFiles = map[string]string{
		"greet.h": "const char *greet(void);\n",
		"greet.c": "#include \"greet.h\"\n/* the greeting */\nconst char *greet(void) { return \"hello v1\"; }\n",
		"libgreet.spec": "Name: libgreet\nVersion: 1.0\nRelease: 1\nSummary: greetings\nLicense: MIT\nProvides: libgreet.so.1()(64bit)\n" +
			"BuildRequires: gcc\n%description\nGreetings.\n%package devel\nSummary: headers\nProvides: pkgconfig(greet)\n%description devel\nHeaders.\n",
		"build.sh": "set -e\nmkdir -p out/lib out/include\ncc -O2 -fPIC -shared -Wl,-soname,libgreet.so.1 -o out/lib/libgreet.so.1 greet.c\n" +
			"ln -sf libgreet.so.1 out/lib/libgreet.so\ncp greet.h out/include/\n",
	}
	programScript = "set -e\nD=/kiln/deps/libgreet/out\nmkdir -p out/bin\ncc -O2 -I$D/include -o out/bin/%[1]s main.c -L$D/lib -lgreet\n"
	bundleScript  = "set -e\nmkdir -p out\ncp -r /kiln/deps/greet-cli/out/bin /kiln/deps/greet-web/out/bin /kiln/deps/libgreet/out/lib out/ 2>/dev/null || " +
		"{ mkdir -p out/bin out/lib; cp /kiln/deps/greet-cli/out/bin/* /kiln/deps/greet-web/out/bin/* out/bin/; cp -P /kiln/deps/libgreet/out/lib/* out/lib/; }\n"
)

func program(name, requires string) map[string]string {
	return map[string]string{
		"main.c":       "#include <stdio.h>\n#include \"greet.h\"\nint main(void) { printf(\"" + name + ": %s\\n\", greet()); return 0; }\n",
		name + ".spec": "Name: " + name + "\nVersion: 1\nRelease: 1\nSummary: x\nLicense: MIT\nBuildRequires: gcc, " + requires + "\n%description\nx\n",
	}
}

func chainComponent(name, url, script string, extra map[string]any) map[string]any {
	b := map[string]any{"params": []any{map[string]any{"name": "image", "value": "host"},
		map[string]any{"name": "outputs", "value": `["out"]`}, map[string]any{"name": "script", "value": script}}}
	for k, v := range extra {
		b[k] = v
	}
	return scriptComponent(name, url, b)
}

// TestDependencyChainRebuildsInOrderWithEarlyCutoff is the dependency
// brain end to end with real builds: a library change rebuilds its two
// consumers (in parallel, against the new library) and then the bundle; a
// comment-only change rebuilds the library alone.
func TestDependencyChainRebuildsInOrderWithEarlyCutoff(t *testing.T) {
	t.Parallel()
	requireSandbox(t)
	if _, err := exec.LookPath("cc"); err != nil {
		t.Skip("no C compiler")
	}
	libURL, commitLib := gitRepo(t, libgreetFiles)
	cliURL, _ := gitRepo(t, program("greet-cli", "pkgconfig(greet) >= 1.0"))
	webURL, _ := gitRepo(t, program("greet-web", "libgreet-devel"))
	imgURL, _ := gitRepo(t, map[string]string{"README": "bundle\n"})
	f, a := buildFactory(t, Config{})
	kiln := kilnCLI(t, f)

	a.must(201, "POST", nsPath("default", "components"), chainComponent("libgreet", libURL, "sh build.sh", nil))
	firstLib := waitBuild(t, a, "libgreet", 1)
	if str(firstLib, "status", "phase") != "Succeeded" {
		t.Fatalf("libgreet: %s", str(firstLib, "status", "message"))
	}
	a.must(201, "POST", nsPath("default", "components"), chainComponent("greet-cli", cliURL, strings.ReplaceAll(programScript, "%[1]s", "greet-cli"), nil))
	a.must(201, "POST", nsPath("default", "components"), chainComponent("greet-web", webURL, strings.ReplaceAll(programScript, "%[1]s", "greet-web"), nil))
	a.must(201, "POST", nsPath("default", "components"), chainComponent("greet-image", imgURL, bundleScript,
		map[string]any{"requires": []any{"greet-cli", "greet-web", "libgreet"}}))
	settle(t, a)

	out, err := kiln("graph")
	if err != nil || !strings.Contains(out, "greet-image") || !regexpLine(out, `greet-cli\s+libgreet`) || !regexpLine(out, `greet-image\s+greet-cli,greet-web,libgreet`) {
		t.Fatalf("kiln graph: %v\n%s", err, out)
	}
	if out, err = kiln("graph", "plan", "--changed", "libgreet"); err != nil || !strings.Contains(out, "4 components would be rebuilt") {
		t.Fatalf("kiln graph plan: %v\n%s", err, out)
	}
	before := buildCounts(t, a)

	// A real change to the library: everything downstream is rebuilt, in order.
	commitLib(map[string]string{"greet.c": "#include \"greet.h\"\nconst char *greet(void) { return \"hello v2\"; }\n"})
	if out, err := kiln("build", "libgreet", "--wait"); err != nil {
		t.Fatalf("kiln build libgreet: %v\n%s", err, out)
	}
	libBuild := latestBuild(t, a, "libgreet")
	grp := waitGroup(t, a, str(libBuild, "metadata", "name")+"-deps")
	if str(grp, "status", "phase") != "Succeeded" {
		t.Fatalf("dependants group: %v", grp["status"])
	}
	after := buildCounts(t, a)
	for _, c := range []string{"libgreet", "greet-cli", "greet-web", "greet-image"} {
		if after[c] != before[c]+1 {
			t.Fatalf("%s built %d times for one library change (before %v, after %v)", c, after[c]-before[c], before, after)
		}
	}
	cli, web, img := latestBuild(t, a, "greet-cli"), latestBuild(t, a, "greet-web"), latestBuild(t, a, "greet-image")
	libDone := timeOf(t, libBuild, "completionTime")
	if timeOf(t, cli, "startTime").Before(libDone) || timeOf(t, web, "startTime").Before(libDone) {
		t.Fatal("a consumer started before the library was built")
	}
	if timeOf(t, img, "startTime").Before(timeOf(t, cli, "completionTime")) || timeOf(t, img, "startTime").Before(timeOf(t, web, "completionTime")) {
		t.Fatal("the bundle started before both programs were built")
	}
	if str(cli, "spec", "reason", "type") != "dependency-change" || str(cli, "spec", "reason", "component") != "libgreet" ||
		str(cli, "spec", "reason", "newDigest") != str(libBuild, "status", "artifact", "digest") ||
		str(cli, "spec", "reason", "oldDigest") != str(firstLib, "status", "artifact", "digest") {
		t.Fatalf("greet-cli reason %v (libgreet's first output %s)", cli["spec"], str(firstLib, "status", "artifact", "digest"))
	}
	if reason := str(grp, "spec", "reason", "message"); !strings.Contains(reason, strings.TrimPrefix(str(firstLib, "status", "artifact", "digest"), "sha256:")[:12]+" -> ") {
		t.Fatalf("dependants group reason %q: the old output is not named", reason)
	}
	why, err := kiln("why", str(img, "metadata", "name"))
	if err != nil || !strings.Contains(why, str(libBuild, "metadata", "name")) {
		t.Fatalf("kiln why: %v\n%s", err, why)
	}
	prov := a.must(200, "GET", nsPath("default", "builds")+"/"+str(img, "metadata", "name")+"/provenance", nil)
	if !strings.Contains(string(prov.Body), "greet-cli") || !strings.Contains(string(prov.Body), str(web, "status", "artifact", "digest")[7:]) {
		t.Fatalf("bundle provenance lacks its inputs:\n%s", prov.Body)
	}
	if got := runBundle(t, f, str(img, "status", "artifact", "repository")+"@"+str(img, "status", "artifact", "digest")); !strings.Contains(got, "greet-cli: hello v2") {
		t.Fatalf("bundle runs: %q", got)
	}
	checkGroupSnapshot(t, a, str(grp, "metadata", "name"), map[string]map[string]any{"greet-cli": cli, "greet-web": web, "greet-image": img})

	// A comment-only change: the library is rebuilt, its output is
	// identical, nothing downstream runs.
	commitLib(map[string]string{"greet.c": "#include \"greet.h\"\n/* reworded comment */\nconst char *greet(void) { return \"hello v2\"; }\n"})
	if out, err := kiln("build", "libgreet", "--wait"); err != nil {
		t.Fatalf("kiln build libgreet: %v\n%s", err, out)
	}
	cosmetic := latestBuild(t, a, "libgreet")
	if cosmetic["status"].(map[string]any)["unchanged"] != true {
		t.Fatalf("comment-only change not detected as unchanged: %v", cosmetic["status"])
	}
	time.Sleep(1500 * time.Millisecond)
	final := buildCounts(t, a)
	for _, c := range []string{"greet-cli", "greet-web", "greet-image"} {
		if final[c] != after[c] {
			t.Fatalf("%s rebuilt after a comment-only library change", c)
		}
	}
	if r := a.do("GET", nsPath("default", "buildgroups")+"/"+str(cosmetic, "metadata", "name")+"-deps", nil); r.Code != 404 {
		t.Fatalf("a dependants group was created for an unchanged output: %d", r.Code)
	}
	restartOnAnotherAddress(t, f, firstLib, final)
}

// restartOnAnotherAddress restarts the factory on a new address. The
// recent builds it replays rebuild nothing that was already built against
// their output (libgreet's first build had no dependants yet; they all
// were built since), and the stored references, which name the old
// address, still pull.
func restartOnAnotherAddress(t *testing.T, f *Factory, firstLib map[string]any, counts map[string]int) {
	old := f.URL
	_ = f.Stop()
	f, err := Start(context.Background(), Config{DataDir: f.cfg.DataDir, Listen: "127.0.0.1:0", Log: quietLog(),
		AllowFileSources: true, RegistryNoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Stop() })
	if f.URL == old {
		t.Fatalf("restarted on the same address %s", old)
	}
	a := api{t: t, base: f.URL, token: f.AdminToken, hc: f.HTTPClient()}
	time.Sleep(2 * time.Second)
	settle(t, a)
	if got := buildCounts(t, a); !maps.Equal(got, counts) {
		t.Fatalf("the restart rebuilt what was up to date: builds %v, before %v", got, counts)
	}
	if r := a.do("GET", nsPath("default", "buildgroups")+"/"+str(firstLib, "metadata", "name")+"-deps", nil); r.Code != 404 {
		t.Fatalf("the restart replayed libgreet's first build into a dependants group: %d %s", r.Code, r.Body)
	}
	if out, err := kilnCLI(t, f)("build", "greet-cli", "--no-cache", "--wait"); err != nil {
		t.Fatalf("a build whose input names the registry's old address: %v\n%s", err, out)
	}
	cli := latestBuild(t, a, "greet-cli")
	inputs, _ := cli["spec"].(map[string]any)["inputs"].([]any)
	if len(inputs) != 1 || !strings.HasPrefix(str(inputs[0].(map[string]any), "repository"), strings.TrimPrefix(old, "https://")+"/") {
		t.Fatalf("greet-cli's input does not name the old address %s: %v", old, inputs)
	}
	if str(cli, "status", "phase") != "Succeeded" || str(cli, "status", "cachedFrom") != "" {
		t.Fatalf("greet-cli after the move: %v", cli["status"])
	}
}

// settle waits until no build or group is running.
func settle(t *testing.T, a api) {
	t.Helper()
	defer func() {
		if t.Failed() {
			dump(t, a)
		}
	}()
	eventuallyFor(t, "builds and groups settle", 120*time.Second, func() bool {
		for _, kind := range []string{"builds", "buildgroups"} {
			list := a.must(200, "GET", nsPath("default", kind), nil).Obj
			items, _ := list["items"].([]any)
			for _, it := range items {
				p := str(it.(map[string]any), "status", "phase")
				if p != "Succeeded" && p != "Failed" && p != "Cancelled" {
					return false
				}
			}
		}
		for _, c := range []string{"greet-cli", "greet-web", "greet-image"} {
			comp := a.must(200, "GET", nsPath("default", "components")+"/"+c, nil).Obj
			if str(comp, "status", "latestArtifact") == "" {
				return false
			}
		}
		return true
	})
}

func buildCounts(t *testing.T, a api) map[string]int {
	out := map[string]int{}
	list := a.must(200, "GET", nsPath("default", "builds"), nil).Obj
	for _, it := range list["items"].([]any) {
		b := it.(map[string]any)
		if str(b, "status", "cachedFrom") == "" {
			out[str(b, "spec", "component")]++
		}
	}
	return out
}

func latestBuild(t *testing.T, a api, component string) map[string]any {
	t.Helper()
	comp := a.must(200, "GET", nsPath("default", "components")+"/"+component, nil).Obj
	return a.must(200, "GET", nsPath("default", "builds")+"/"+str(comp, "status", "lastBuild"), nil).Obj
}

func waitGroup(t *testing.T, a api, name string) map[string]any {
	t.Helper()
	var g map[string]any
	eventuallyFor(t, "group "+name+" finishes", 120*time.Second, func() bool {
		r := a.do("GET", nsPath("default", "buildgroups")+"/"+name, nil)
		if r.Code != 200 {
			return false
		}
		g = r.Obj
		p := str(g, "status", "phase")
		return p == "Succeeded" || p == "Failed" || p == "Cancelled"
	})
	return g
}

func timeOf(t *testing.T, b map[string]any, field string) time.Time {
	t.Helper()
	ts, err := time.Parse(time.RFC3339, str(b, "status", field))
	if err != nil {
		t.Fatalf("%s.status.%s: %v", str(b, "metadata", "name"), field, err)
	}
	return ts
}

// runBundle pulls the bundle and runs its greet-cli with its own library.
func runBundle(t *testing.T, f *Factory, ref string) string {
	t.Helper()
	dir := t.TempDir()
	pullInto(t, f, ref, dir)
	cmd := exec.Command(filepath.Join(dir, "out", "bin", "greet-cli"))
	cmd.Env = append(os.Environ(), "LD_LIBRARY_PATH="+filepath.Join(dir, "out", "lib"))
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("running the bundled program: %v\n%s", err, b)
	}
	return string(b)
}

func regexpLine(text, pattern string) bool {
	return regexp.MustCompile(`(?m)^` + pattern).MatchString(text)
}

func pullInto(t *testing.T, f *Factory, ref, dir string) {
	t.Helper()
	if _, err := oci.Pull(t.Context(), ref, dir, oci.Remote{Token: f.AdminToken, RootCAs: f.caPool()}); err != nil {
		t.Fatalf("pulling %s: %v", ref, err)
	}
}

func eventuallyFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("timed out waiting for %s", what)
	t.FailNow()
}

// dump logs builds, groups and components, to see why something hangs.
func dump(t *testing.T, a api) {
	for _, kind := range []string{"builds", "buildgroups", "components"} {
		list := a.must(200, "GET", nsPath("default", kind), nil).Obj
		for _, it := range list["items"].([]any) {
			o := it.(map[string]any)
			t.Logf("%s %s: spec=%v status=%v", kind, str(o, "metadata", "name"), o["spec"], o["status"])
		}
	}
}

// checkGroupSnapshot: a finished group makes one Snapshot holding every
// member's new artifact, and the candidate list moves to them.
func checkGroupSnapshot(t *testing.T, a api, group string, builds map[string]map[string]any) {
	t.Helper()
	var snap map[string]any
	eventuallyFor(t, "group snapshot", 30*time.Second, func() bool {
		list := a.must(200, "GET", nsPath("default", "snapshots")+"?labelSelector=kiln.dev%2Fbuild-group%3D"+group, nil).Obj
		items := list["items"].([]any)
		if len(items) == 1 {
			snap = items[0].(map[string]any)
		}
		return snap != nil
	})
	if snap["metadata"].(map[string]any)["labels"].(map[string]any)["test.appstudio.openshift.io/type"] != "group" {
		t.Fatalf("group snapshot labels: %v", snap["metadata"])
	}
	images := map[string]string{}
	for _, c := range snap["spec"].(map[string]any)["components"].([]any) {
		m := c.(map[string]any)
		images[m["name"].(string)] = m["containerImage"].(string)
	}
	app := a.must(200, "GET", nsPath("default", "applications")+"/greet", nil).Obj
	cands := map[string]string{}
	for _, c := range app["status"].(map[string]any)["candidates"].([]any) {
		m := c.(map[string]any)
		cands[m["component"].(string)] = m["containerImage"].(string)
	}
	for name, b := range builds {
		want := str(b, "status", "artifact", "repository") + "@" + str(b, "status", "artifact", "digest")
		if images[name] != want || cands[name] != want {
			t.Fatalf("%s: snapshot has %q, candidates %q, want %q", name, images[name], cands[name], want)
		}
	}
	if len(images) != 4 {
		t.Fatalf("group snapshot should hold all 4 components (3 rebuilt + libgreet's candidate): %v", images)
	}
}
