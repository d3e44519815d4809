package server

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kilnbuild/kiln/internal/oci"
)

// TestDebianSliceInComposedBuildroots is the Debian slice end to end, with
// the real archive: Kiln builds its own base buildroot (debootstrap of
// bookworm minbase + build-essential, network only in the prefetch step),
// then real source packages (zlib -> libpng1.6 -> a program linked with
// libpng; hello) in one BuildGroup, in dependency order, each in a
// buildroot composed from the base, the group's own .debs and pinned
// archive packages. Bad input in the same group: a build that fails, a
// build dependency nothing provides (unresolvable: the build does not
// start) and a buildroot that cannot be composed (a member's postinst
// fails); nothing else is affected. A rebuild of hello reuses its
// buildroot and gives bit-identical packages. Then a build dependency
// cycle of two new packages is bootstrapped with the stage1 build profile
// (checkCycleBootstrap).
func TestDebianSliceInComposedBuildroots(t *testing.T) {
	if raceDetector {
		// Its work is gigabytes through gzip, tar and SHA-256 in the server
		// and hours of it under the race detector; the code it runs is raced
		// by the package's other tests. scripts/test.sh runs it without.
		t.Skip("the Debian slice runs without the race detector (scripts/test.sh)")
	}
	t.Parallel()
	requireSandbox(t)
	requireDebianTools(t)
	srcDir := debianSources(t, "hello", "zlib", "libpng1.6")
	// The members are created one request at a time: a batch window that
	// covers them all (even on a loaded machine) keeps them in one group.
	f, a := buildFactory(t, Config{BatchWindow: 10 * time.Second})
	base, err := os.ReadFile("../../distro/debian-base/.kiln/pipeline.yaml")
	if err != nil {
		t.Fatal(err)
	}
	baseURL, _ := gitRepo(t, map[string]string{".kiln/pipeline.yaml": string(base)})
	comps := []map[string]any{debianComponent("debian-base", baseURL, nil, nil)}
	comps[0]["spec"].(map[string]any)["build"] = map[string]any{"pollInterval": "0s"}
	nocheck := map[string]string{"nocheck": "true"}
	for _, c := range []struct {
		name, dir string
		params    map[string]string
		requires  []string
	}{
		{"zlib", filepath.Join(srcDir, "zlib"), map[string]string{"nocheck": "true", "profiles": "nobiarch"}, nil},
		{"libpng1.6", filepath.Join(srcDir, "libpng1.6"), nocheck, []string{"zlib"}},
		{"kiln-pngtool", "testdata/debian/kiln-pngtool", nil, []string{"libpng1.6"}},
		{"hello", filepath.Join(srcDir, "hello"), nil, nil},
		{"kiln-fails", "testdata/debian/kiln-fails", nil, nil},
		{"kiln-unresolvable", "testdata/debian/kiln-unresolvable", nil, nil},
		{"kiln-badscript", "testdata/debian/kiln-badscript", nil, nil},
		{"kiln-needs-badscript", "testdata/debian/kiln-needs-badscript", nil, []string{"kiln-badscript"}},
	} {
		comps = append(comps, debianComponent(c.name, gitRepoFromDir(t, c.dir), c.params, c.requires))
	}
	defer func() {
		if t.Failed() {
			dumpBuildLogs(t, a)
		}
	}()
	// The base first: Kiln bootstraps it (the run's one debootstrap).
	a.must(201, "POST", nsPath("default", "components"), comps[0])
	if b := waitBuildFor(t, a, "debian-base", 1, 15*time.Minute); str(b, "status", "phase") != "Succeeded" {
		t.Fatalf("debian-base: %s", str(b, "status", "message"))
	}
	for _, c := range comps[1:] {
		a.must(201, "POST", nsPath("default", "components"), c)
	}
	states := waitDebianSlice(t, a, comps[1:])
	for name, want := range map[string]string{"zlib": "succeeded", "libpng1.6": "succeeded",
		"kiln-pngtool": "succeeded", "hello": "succeeded", "kiln-badscript": "succeeded", "kiln-fails": "failed",
		"kiln-unresolvable": "unresolvable", "kiln-needs-badscript": "failed"} {
		if got := str(states[name], "state"); got != want {
			t.Fatalf("member %s: %s (%s), want %s", name, got, str(states[name], "message"), want)
		}
	}
	checkUnresolvable(t, a, states["kiln-unresolvable"])
	if msg := str(states["kiln-needs-badscript"], "message"); !strings.Contains(msg, "failed to compose") {
		t.Fatalf("kiln-needs-badscript: %q, want a buildroot that failed to compose", msg)
	}
	if msg := str(states["kiln-fails"], "message"); !strings.Contains(msg, "dpkg-buildpackage") {
		t.Fatalf("kiln-fails: %q, want the failed step named", msg)
	}
	checkGroupDebs(t, f, a, states)
	checkAptInstallsTheGroup(t, f, a)
	checkReproducibleRebuild(t, a)
	checkCycleBootstrap(t, f, a)
}

// checkAptInstallsTheGroup: the real apt, in a clean bookworm chroot with
// only Kiln's repository of the application as a source, installs
// kiln-pngtool and the libpng16-16 it depends on, both built by the group.
func checkAptInstallsTheGroup(t *testing.T, f *Factory, a api) {
	t.Helper()
	a.must(200, "PATCH", nsPath("default", "applications")+"/greet",
		`{"metadata":{"annotations":{"kiln.dev/apt-repository":"public"}}}`, "Content-Type", "application/merge-patch+json")
	root := aptChroot(t)
	aptInstallFromKiln(t, f, root, "default", "greet", "kiln-pngtool")
	out, err := exec.Command("chroot", root, "dpkg-query", "-W", "-f", "${Package} ${Status}\n", "kiln-pngtool", "libpng16-16").CombinedOutput()
	if err != nil || strings.Count(string(out), "install ok installed") != 2 {
		t.Fatalf("after apt-get install kiln-pngtool from Kiln: %v\n%s", err, out)
	}
	if out, err := exec.Command("chroot", root, "ldd", "/usr/bin/kiln-pngtool").CombinedOutput(); err != nil || !strings.Contains(string(out), "libpng16.so.16") {
		t.Fatalf("the installed kiln-pngtool is not linked with the installed libpng: %v\n%s", err, out)
	}
}

func requireDebianTools(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"debootstrap", "fakeroot", "dpkg-source", "apt-get", "git"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" || os.Getenv("KILN_REQUIRE_SANDBOX") != "" {
				t.Fatalf("%s is required (scripts/test-deps.sh installs it)", tool)
			}
			t.Skipf("%s not installed", tool)
		}
	}
}

// debianComponent builds a source package with the debian catalog
// pipeline on the debian-base buildroot.
func debianComponent(name, url string, params map[string]string, requires []string) map[string]any {
	comp := component(name, "greet")
	comp["spec"].(map[string]any)["source"].(map[string]any)["git"].(map[string]any)["url"] = url
	var ps []any
	for k, v := range params {
		ps = append(ps, map[string]any{"name": k, "value": v})
	}
	req := []any{"debian-base"}
	for _, r := range requires {
		req = append(req, r)
	}
	comp["spec"].(map[string]any)["build"] = map[string]any{"pipelineRef": "debian", "pollInterval": "0s", "params": ps, "requires": req}
	return comp
}

// gitRepoFromDir commits a copy of dir to a new repository.
func gitRepoFromDir(t *testing.T, dir string) string {
	t.Helper()
	repo := t.TempDir()
	if out, err := exec.Command("cp", "-a", dir+"/.", repo).CombinedOutput(); err != nil {
		t.Fatalf("copying %s: %v\n%s", dir, err, out)
	}
	cmd := exec.Command("sh", "-c", "git init -q -b main && git add -A && git commit -qm import")
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@x", "GIT_COMMITTER_NAME=t",
		"GIT_COMMITTER_EMAIL=t@x", "GIT_CONFIG_NOSYSTEM=1", "HOME="+repo)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("committing %s: %v\n%s", dir, err, out)
	}
	return "file://" + repo
}

// debianSources fetches (once, cached in $KILN_TEST_CACHE or the user's
// cache directory) and unpacks source packages from the archive, checked
// against their .dsc by dpkg-source; it returns the directory holding one
// unpacked tree per package.
func debianSources(t *testing.T, pkgs ...string) string {
	t.Helper()
	cache := os.Getenv("KILN_TEST_CACHE")
	if cache == "" {
		d, err := os.UserCacheDir()
		if err != nil {
			t.Fatal(err)
		}
		cache = filepath.Join(d, "kiln-test")
	}
	dir := filepath.Join(cache, "debian-sources", "bookworm")
	for _, p := range pkgs {
		if _, err := os.Stat(filepath.Join(dir, p, "debian", "control")); err == nil {
			continue
		}
		fetchSource(t, dir, p)
	}
	return dir
}

func fetchSource(t *testing.T, dir, pkg string) {
	t.Helper()
	work := t.TempDir()
	if err := os.Chmod(work, 0o777); err != nil { // apt downloads as _apt
		t.Fatal(err)
	}
	list := filepath.Join(work, "sources.list")
	writeFile(t, list, "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main\n")
	opts := []string{"-o", "Dir::Etc::SourceList=" + list, "-o", "Dir::Etc::SourceParts=/dev/null", "-o", "Dir::State::Lists=" + filepath.Join(work, "lists")}
	run := func(name string, args ...string) {
		cmd := exec.Command(name, args...)
		cmd.Dir = work
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
	}
	if err := os.MkdirAll(filepath.Join(work, "lists", "partial"), 0o755); err != nil {
		t.Fatal(err)
	}
	run("apt-get", append(opts, "-qq", "update")...)
	run("apt-get", append(opts, "-qq", "source", "--download-only", pkg)...)
	dscs, _ := filepath.Glob(filepath.Join(work, pkg+"_*.dsc"))
	if len(dscs) != 1 {
		t.Fatalf("apt-get source %s: %d .dsc files", pkg, len(dscs))
	}
	tmp := filepath.Join(dir, "."+pkg+".tmp")
	_ = os.RemoveAll(tmp)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	run("dpkg-source", "-x", dscs[0], tmp) // apt checked the files against the signed Sources index
	if err := os.Rename(tmp, filepath.Join(dir, pkg)); err != nil {
		t.Fatal(err)
	}
}

// waitDebianSlice waits until every build and group has finished and
// each component has a finished build, and returns each component's state
// in the last group that built it (Kiln may batch new components into
// more than one group).
func waitDebianSlice(t *testing.T, a api, comps []map[string]any) map[string]map[string]any {
	t.Helper()
	states := map[string]map[string]any{}
	eventuallyFor(t, "the Debian slice is built", 25*time.Minute, func() bool {
		clear(states)
		for _, kind := range []string{"builds", "buildgroups"} {
			for _, it := range a.must(200, "GET", nsPath("default", kind), nil).Obj["items"].([]any) {
				if p := str(it.(map[string]any), "status", "phase"); p != "Succeeded" && p != "Failed" && p != "Cancelled" {
					return false
				}
			}
		}
		number := map[string]int{}
		for _, it := range a.must(200, "GET", nsPath("default", "builds"), nil).Obj["items"].([]any) {
			b := it.(map[string]any)
			number[str(b, "metadata", "name")], _ = strconv.Atoi(str(b, "status", "buildNumber"))
		}
		for _, it := range a.must(200, "GET", nsPath("default", "buildgroups"), nil).Obj["items"].([]any) {
			st, _ := it.(map[string]any)["status"].(map[string]any)
			ms, _ := st["members"].([]any)
			for _, m := range ms {
				mm := m.(map[string]any)
				if prev, ok := states[str(mm, "component")]; !ok || number[str(mm, "build")] > number[str(prev, "build")] {
					states[str(mm, "component")] = mm
				}
			}
		}
		for _, c := range comps {
			if _, ok := states[str(c, "metadata", "name")]; !ok {
				return false
			}
		}
		return true
	})
	return states
}

func buildLog(t *testing.T, a api, build string) string {
	t.Helper()
	return string(a.must(200, "GET", nsPath("default", "builds")+"/"+build+"/log", nil).Body)
}

func dumpDebian(t *testing.T, a api, states map[string]map[string]any) {
	for name, m := range states {
		if b := str(m, "build"); b != "" && str(m, "state") != "succeeded" {
			log := buildLog(t, a, b)
			if len(log) > 6000 {
				log = log[len(log)-6000:]
			}
			t.Logf("member %s (%s): %s\n%s", name, str(m, "state"), str(m, "message"), log)
		}
	}
}

// checkUnresolvable: the build names the missing package, has the
// Unresolvable condition and ran no step.
func checkUnresolvable(t *testing.T, a api, m map[string]any) {
	t.Helper()
	if !strings.Contains(str(m, "message"), "kiln-no-such-package (>= 1)") {
		t.Fatalf("unresolvable member message %q does not name the missing package", str(m, "message"))
	}
	b := a.must(200, "GET", nsPath("default", "builds")+"/"+str(m, "build"), nil).Obj
	if steps, _ := b["status"].(map[string]any)["steps"].([]any); len(steps) != 0 {
		t.Fatalf("the unresolvable build ran steps: %v", steps)
	}
	conds, _ := b["status"].(map[string]any)["conditions"].([]any)
	if len(conds) == 0 || str(conds[0].(map[string]any), "reason") != "Unresolvable" {
		t.Fatalf("unresolvable build conditions: %v", conds)
	}
}

// checkGroupDebs: libpng1.6 was built against zlib's .debs from the group,
// the program against libpng's, and the provenance records them.
func checkGroupDebs(t *testing.T, f *Factory, a api, states map[string]map[string]any) {
	t.Helper()
	zlib := a.must(200, "GET", nsPath("default", "builds")+"/"+str(states["zlib"], "build"), nil).Obj
	zlibArt := str(zlib, "status", "artifact", "repository") + "@" + str(zlib, "status", "artifact", "digest")
	pngLog := buildLog(t, a, str(states["libpng1.6"], "build"))
	if !regexp.MustCompile(`zlib1g-dev \S+ sha256:[0-9a-f]{64} from ` + regexp.QuoteMeta(zlibArt)).MatchString(pngLog) {
		t.Fatalf("libpng1.6 did not install zlib1g-dev from the group's %s:\n%s", zlibArt, pngLog)
	}
	tool := a.must(200, "GET", nsPath("default", "builds")+"/"+str(states["kiln-pngtool"], "build"), nil).Obj
	dir := t.TempDir()
	ref := str(tool, "status", "artifact", "repository") + "@" + str(tool, "status", "artifact", "digest")
	if _, err := oci.Pull(t.Context(), ref, dir, oci.Remote{Token: f.AdminToken, RootCAs: f.caPool()}); err != nil {
		t.Fatal(err)
	}
	debs, _ := filepath.Glob(filepath.Join(dir, "kiln-pngtool_1.0_*.deb"))
	changes, _ := filepath.Glob(filepath.Join(dir, "kiln-pngtool_1.0_*.changes"))
	buildinfo, _ := filepath.Glob(filepath.Join(dir, "kiln-pngtool_1.0_*.buildinfo"))
	if len(debs) != 1 || len(changes) != 1 || len(buildinfo) != 1 {
		entries, _ := os.ReadDir(dir)
		t.Fatalf("kiln-pngtool artifact: %v", entries)
	}
	out, err := exec.Command("dpkg-deb", "-f", debs[0], "Depends").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "libpng16-16") {
		t.Fatalf("kiln-pngtool's Depends %q (%v) lacks the libpng the group built", out, err)
	}
	prov := string(a.must(200, "GET", nsPath("default", "builds")+"/"+str(states["kiln-pngtool"], "build")+"/provenance", nil).Body)
	if !strings.Contains(prov, "oci://"+str(states["libpng1.6"], "digest")) && !strings.Contains(prov, "libpng-dev_") {
		t.Fatalf("kiln-pngtool's provenance lacks libpng-dev:\n%s", prov)
	}
	for name, m := range states {
		if b := str(m, "build"); b != "" {
			for _, line := range regexp.MustCompile(`==> buildroot sha256:[0-9a-f]{12}[0-9a-f]*: (composed in \S+|reused .*)`).FindAllString(buildLog(t, a, b), -1) {
				t.Logf("%s: %s", name, line)
			}
		}
	}
}

// checkReproducibleRebuild: building hello again (no cache) reuses its
// buildroot and gives bit-identical packages.
func checkReproducibleRebuild(t *testing.T, a api) {
	t.Helper()
	first := latestBuild(t, a, "hello")
	n, _ := strconv.Atoi(str(first, "status", "buildNumber"))
	a.must(201, "POST", nsPath("default", "builds"), map[string]any{"metadata": map[string]any{"generateName": "hello-"},
		"spec": map[string]any{"component": "hello", "noCache": true, "reason": map[string]any{"type": "manual"},
			"inputs": first["spec"].(map[string]any)["inputs"]}})
	again := waitBuildFor(t, a, "hello", n+1, 5*time.Minute)
	if str(again, "status", "phase") != "Succeeded" {
		t.Fatalf("hello rebuild: %s", str(again, "status", "message"))
	}
	log := buildLog(t, a, str(again, "metadata", "name"))
	if !strings.Contains(log, ": reused (") {
		t.Fatalf("the rebuild composed its buildroot again:\n%s", log)
	}
	if str(again, "status", "contentDigest") != str(first, "status", "contentDigest") {
		t.Fatalf("hello is not reproducible: %s, then %s", str(first, "status", "contentDigest"), str(again, "status", "contentDigest"))
	}
}

func waitBuildFor(t *testing.T, a api, component string, n int, d time.Duration) map[string]any {
	t.Helper()
	var b map[string]any
	eventuallyFor(t, component+" build finishes", d, func() bool {
		list := a.must(200, "GET", nsPath("default", "builds")+"?fieldSelector=spec.component%3D"+component, nil).Obj
		for _, it := range list["items"].([]any) {
			o := it.(map[string]any)
			p := str(o, "status", "phase")
			if str(o, "status", "buildNumber") == strconv.Itoa(n) && (p == "Succeeded" || p == "Failed" || p == "Cancelled") {
				b = o
				return true
			}
		}
		return false
	})
	return b
}

// dumpBuildLogs logs the end of every build's log.
func dumpBuildLogs(t *testing.T, a api) {
	list := a.must(200, "GET", nsPath("default", "builds"), nil).Obj
	for _, it := range list["items"].([]any) {
		b := it.(map[string]any)
		log := buildLog(t, a, str(b, "metadata", "name"))
		if len(log) > 4000 {
			log = log[len(log)-4000:]
		}
		t.Logf("build %s (%s): %s\n%s", str(b, "metadata", "name"), str(b, "status", "phase"), str(b, "status", "message"), log)
	}
}
