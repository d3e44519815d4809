package debimport

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/kilnbuild/kiln/internal/client"
)

// recorder is an Apply that keeps what it was given.
type recorder struct{ applied [][]client.Object }

func (r *recorder) apply(_ context.Context, objs []client.Object) error {
	r.applied = append(r.applied, objs)
	return nil
}

func importOpts(a Archive, dir string, rec *recorder, pkgs ...string) Options {
	return Options{Packages: pkgs, Archive: a, Dir: dir, Namespace: "distro", App: "slice", Log: io.Discard, Apply: rec.apply}
}

// assertNothingImported checks no repository was made and nothing applied.
func assertNothingImported(t *testing.T, dir string, rec *recorder) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		t.Errorf("%s was created although the import failed", e.Name())
	}
	if len(rec.applied) > 0 {
		t.Errorf("objects were applied although the import failed: %v", rec.applied)
	}
}

func gitOut(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := git(context.Background(), dir, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestImportNewerVersionCommitsOnTop(t *testing.T) {
	t.Parallel()
	fa := newFakeArchive(t)
	fa.addPackage("greet", "1.0", "first")
	fa.addPackage("libgreet", "2.0", "library")
	fa.publish()
	dir, rec := t.TempDir(), &recorder{}
	ctx := context.Background()
	res, err := Run(ctx, importOpts(fa.archive(), dir, rec, "greet", "libgreet"))
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || !res[0].Changed || res[0].Version != "1.0" || res[0].Previous != "" {
		t.Fatalf("first import: %+v", res)
	}
	repo := filepath.Join(dir, "greet.git")
	if got := gitOut(t, repo, "show", "main:README"); got != "first" {
		t.Errorf("README = %q (a file the package's .gitignore names must be imported)", got)
	}
	if files := gitOut(t, repo, "ls-tree", "-r", "--name-only", "main"); !strings.Contains(files, "README") || !strings.Contains(files, "debian/rules") {
		t.Errorf("committed files:\n%s", files)
	}
	if mode := gitOut(t, repo, "ls-tree", "main", "debian/rules"); !strings.HasPrefix(mode, "100755") {
		t.Errorf("debian/rules is not executable in the commit: %s", mode)
	}
	first := gitOut(t, repo, "rev-parse", "main")

	// Same version again: no new commit.
	res, err = Run(ctx, importOpts(fa.archive(), dir, rec, "greet"))
	if err != nil || res[0].Changed || res[0].Commit != first {
		t.Fatalf("re-import of the same version: %+v, %v", res, err)
	}

	// A newer version in the archive: a commit on top.
	fa.addPackage("greet", "1.1", "second")
	fa.publish()
	res, err = Run(ctx, importOpts(fa.archive(), dir, rec, "greet"))
	if err != nil || !res[0].Changed || res[0].Previous != "1.0" || res[0].Version != "1.1" {
		t.Fatalf("import of 1.1: %+v, %v", res, err)
	}
	if parent := gitOut(t, repo, "rev-parse", "main^"); parent != first {
		t.Errorf("1.1's parent is %s, want the 1.0 commit %s", parent, first)
	}
	if tags := gitOut(t, repo, "tag", "--list"); tags != "debian/1.0\ndebian/1.1" {
		t.Errorf("tags = %q", tags)
	}
	if got := gitOut(t, repo, "show", "main:README"); got != "second" {
		t.Errorf("README after 1.1 = %q", got)
	}
	checkObjects(t, rec.applied[0], repo)
}

// checkObjects checks the applied Application and Components.
func checkObjects(t *testing.T, objs []client.Object, repo string) {
	t.Helper()
	if len(objs) != 3 || objs[0]["kind"] != "Application" || objs[0].Name() != "slice" {
		t.Fatalf("applied %v", objs)
	}
	c := objs[1]
	spec := c.Map("spec")
	git := spec["source"].(map[string]any)["git"].(map[string]any)
	if c["kind"] != "Component" || c.Name() != "greet" || c.Namespace() != "distro" || spec["application"] != "slice" ||
		spec["build"].(map[string]any)["pipelineRef"] != "debian" || git["url"] != "file://"+repo || git["revision"] != "main" {
		t.Errorf("component = %v", c)
	}
}

func TestImportUnknownPackage(t *testing.T) {
	t.Parallel()
	fa := newFakeArchive(t)
	fa.addPackage("greet", "1.0", "first")
	fa.addPackage("libgreet", "2.0", "library", "libgreet1", "libgreet-dev")
	fa.publish()
	dir, rec := t.TempDir(), &recorder{}
	_, err := Run(context.Background(), importOpts(fa.archive(), dir, rec, "greet", "no-such-pkg", "libgreet-dev"))
	if err == nil || !strings.Contains(err.Error(), "unknown source package no-such-pkg, libgreet-dev (a binary package of source libgreet: import libgreet)") || !strings.Contains(err.Error(), "nothing was imported") {
		t.Fatalf("error = %v", err)
	}
	assertNothingImported(t, dir, rec)
}

func TestImportTampered(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		tamper func(fa *fakeArchive)
		want   string
	}{
		{"tarball", func(fa *fakeArchive) {
			mustWrite(t, fa.path("pool/main/g/greet/greet_1.0.tar.xz"), "not the tarball")
		}, "greet: greet_1.0.tar.xz: size 15 does not match the signed index"},
		{"tarball same size", func(fa *fakeArchive) {
			p := fa.path("pool/main/g/greet/greet_1.0.tar.xz")
			data, _ := os.ReadFile(p)
			data[len(data)/2] ^= 1
			mustWrite(t, p, string(data))
		}, "greet: greet_1.0.tar.xz: SHA-256"},
		{"dsc", func(fa *fakeArchive) {
			p := fa.path("pool/main/g/greet/greet_1.0.dsc")
			data, _ := os.ReadFile(p)
			mustWrite(t, p, strings.Replace(string(data), "Version: 1.0", "Version: 1.9", 1))
		}, "greet: greet_1.0.dsc: SHA-256"},
		{"index", func(fa *fakeArchive) {
			mustWrite(t, fa.path("dists/bookworm/main/source/Sources.gz"), "garbage")
		}, "main/source/Sources.gz: size 7 does not match the signed index"},
		{"expired release", func(fa *fakeArchive) {
			data, _ := os.ReadFile(fa.path("dists/bookworm/main/source/Sources.gz"))
			fa.sign("Codename: bookworm\nValid-Until: Sat, 01 Jan 2022 00:00:00 UTC\nSHA256:\n "+sha(data)+" "+strconv.Itoa(len(data))+" main/source/Sources.gz\n", fa.key)
		}, "dists/bookworm/InRelease: expired: Valid-Until Sat, 01 Jan 2022 00:00:00 UTC has passed"},
		{"release for another suite", func(fa *fakeArchive) {
			data, _ := os.ReadFile(fa.path("dists/bookworm/main/source/Sources.gz"))
			fa.sign("Codename: bullseye\nSuite: oldoldstable\nSHA256:\n "+sha(data)+" "+strconv.Itoa(len(data))+" main/source/Sources.gz\n", fa.key)
		}, `InRelease is for suite "oldoldstable" (codename "bullseye"), not "bookworm"`},
		{"release signed by another key", func(fa *fakeArchive) {
			other, _ := openpgp.NewEntity("Mallory", "", "m@example.org", nil)
			data, _ := os.ReadFile(fa.path("dists/bookworm/main/source/Sources.gz"))
			fa.sign("Codename: bookworm\nSHA256:\n "+sha(data)+" 1 main/source/Sources.gz\n", other)
		}, "dists/bookworm/InRelease is not signed by a key of the archive keyring"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fa := newFakeArchive(t)
			fa.addPackage("greet", "1.0", "first")
			fa.addPackage("libgreet", "2.0", "library")
			fa.publish()
			tc.tamper(fa)
			dir, rec := t.TempDir(), &recorder{}
			_, err := Run(context.Background(), importOpts(fa.archive(), dir, rec, "libgreet", "greet"))
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "nothing was imported") {
				t.Fatalf("error = %v\nwant it to contain %q", err, tc.want)
			}
			assertNothingImported(t, dir, rec)
		})
	}
}

// TestImportDSCDisagreesWithIndex: a .dsc whose own checksums do not match
// the files the (signed) index lists is refused even when the .dsc itself
// matches the index.
func TestImportDSCDisagreesWithIndex(t *testing.T) {
	t.Parallel()
	fa := newFakeArchive(t)
	fa.addPackage("greet", "1.0", "first")
	// Rewrite the .dsc's tarball checksum, then re-list the .dsc in the index.
	p := fa.path("pool/main/g/greet/greet_1.0.dsc")
	data, _ := os.ReadFile(p)
	tar, _ := os.ReadFile(fa.path("pool/main/g/greet/greet_1.0.tar.xz"))
	forged := strings.Replace(string(data), sha(tar), strings.Repeat("0", 64), 1)
	mustWrite(t, p, forged)
	fa.entries["greet"] = strings.Replace(fa.entries["greet"], sha(data)+" "+itoa(len(data)), sha([]byte(forged))+" "+itoa(len(forged)), 1)
	fa.publish()
	dir, rec := t.TempDir(), &recorder{}
	_, err := Run(context.Background(), importOpts(fa.archive(), dir, rec, "greet"))
	if err == nil || !strings.Contains(err.Error(), "greet: greet_1.0.dsc: greet_1.0.tar.xz: the .dsc says SHA-256 0000") {
		t.Fatalf("error = %v", err)
	}
	assertNothingImported(t, dir, rec)
}

func TestImportUnreachableArchive(t *testing.T) {
	t.Parallel()
	fa := newFakeArchive(t)
	a := fa.archive()
	fa.srv.Close()
	dir, rec := t.TempDir(), &recorder{}
	_, err := Run(context.Background(), importOpts(a, dir, rec, "greet"))
	if err == nil || !strings.Contains(err.Error(), "importing greet: fetching "+a.URL+"/dists/bookworm/InRelease") || !strings.Contains(err.Error(), "is the archive reachable?") {
		t.Fatalf("error = %v", err)
	}
	assertNothingImported(t, dir, rec)
}

func TestImportRefusesOlderVersion(t *testing.T) {
	t.Parallel()
	fa := newFakeArchive(t)
	fa.addPackage("greet", "1.1", "newer")
	fa.publish()
	dir, rec := t.TempDir(), &recorder{}
	if _, err := Run(context.Background(), importOpts(fa.archive(), dir, rec, "greet")); err != nil {
		t.Fatal(err)
	}
	fa.addPackage("greet", "1.0", "older")
	fa.publish()
	_, err := Run(context.Background(), importOpts(fa.archive(), dir, rec, "greet"))
	if err == nil || !strings.Contains(err.Error(), "greet: the archive has 1.0, older than 1.1") {
		t.Errorf("older version: error = %v", err)
	}
}

// TestCommitTreeCompareAndSwap: a branch that moved since the repository
// was inspected (a concurrent import) is not overwritten.
func TestCommitTreeCompareAndSwap(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	repo, work := filepath.Join(t.TempDir(), "p.git"), t.TempDir()
	tree := func(content string) string {
		d := filepath.Join(work, content)
		mustWrite(t, filepath.Join(d, "f"), content)
		return d
	}
	first, changed, err := commitTree(ctx, repo, tree("a"), "", "one", "debian/1")
	if err != nil || !changed {
		t.Fatal(changed, err)
	}
	if _, _, err := commitTree(ctx, repo, tree("b"), "", "stale", "debian/2"); err == nil || !strings.Contains(err.Error(), "the branch moved while importing") {
		t.Errorf("a stale parent: error = %v", err)
	}
	if head := gitOut(t, repo, "rev-parse", "main"); head != first {
		t.Errorf("main = %s, want %s", head, first)
	}
	if again, changed, err := commitTree(ctx, repo, tree("a"), first, "same tree", "debian/1"); err != nil || changed || again != first {
		t.Errorf("the same tree again: %s, changed %v, %v; want %s unchanged", again, changed, err, first)
	}
}

func TestImportBadNames(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		pkgs []string
		want string
	}{
		{[]string{"Hello"}, `"Hello" is not a Debian source package name`},
		{[]string{"../etc"}, `"../etc" is not a Debian source package name`},
		{[]string{"gtk+3.0", "gtkplus3-0"}, "gtk+3.0 and gtkplus3-0 would both be component gtkplus3-0"},
		{nil, "name at least one source package"},
	} {
		rec := &recorder{}
		_, err := Run(context.Background(), importOpts(Archive{}, t.TempDir(), rec, tc.pkgs...))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error = %v, want %q", tc.pkgs, err, tc.want)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestValidUntil(t *testing.T) {
	t.Parallel()
	a := Archive{Now: func() time.Time { return time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC) }}
	for v, ok := range map[string]bool{"": true, "Sun, 13 Dec 2026 11:00:00 UTC": true, "Sat, 05 Dec 2026 11:00:00 UTC": false, "tomorrow": false} {
		if err := a.checkValidUntil(v); (err == nil) != ok {
			t.Errorf("Valid-Until %q: %v", v, err)
		}
	}
}

func TestImportBuildProfiles(t *testing.T) {
	t.Parallel()
	fa := newFakeArchive(t)
	fa.addPackage("greet", "1.0", "first")
	fa.publish()
	dir, rec := t.TempDir(), &recorder{}
	o := importOpts(fa.archive(), dir, rec, "greet")
	o.Nocheck, o.Profiles = true, []string{"nobiarch", "nodoc"}
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	build := rec.applied[0][1].Map("spec")["build"].(map[string]any)
	want := []any{map[string]any{"name": "nocheck", "value": "true"}, map[string]any{"name": "profiles", "value": "nobiarch nodoc"}}
	if !reflect.DeepEqual(build["params"], want) {
		t.Errorf("params = %v, want %v", build["params"], want)
	}
}

func TestImportBadProfiles(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"Nobiarch", "no biarch", "", "<!nocheck>"} {
		dir, rec := t.TempDir(), &recorder{}
		o := importOpts(Archive{URL: "http://127.0.0.1:1/never-asked"}, dir, rec, "greet")
		o.Profiles = []string{bad}
		_, err := Run(context.Background(), o)
		if err == nil || !strings.Contains(err.Error(), "is not a build profile name") {
			t.Errorf("profile %q: error = %v", bad, err)
		}
		assertNothingImported(t, dir, rec)
	}
}

// TestImportStage1Bootstrap: a package whose Build-Depends has a
// relation restricted to <!stage1> gets bootstrap params selecting the
// stage1 profile (nocheck stays a param of its own, so the bootstrap
// build keeps it); one without such a relation gets none, also when
// <!nocheck> relations or a <stage1> one exist. Reading debian/control
// from the repository, when the package is not fetched again, agrees.
func TestImportStage1Bootstrap(t *testing.T) {
	t.Parallel()
	fa := newFakeArchive(t)
	fa.buildDepends["kiln-stage-a"] = "kiln-stage-b <!stage1>, check <!nocheck>"
	fa.buildDepends["kiln-stage-b"] = "kiln-stage-a, helper <stage1>, check <!nocheck>"
	fa.addPackage("kiln-stage-a", "1.0", "a")
	fa.addPackage("kiln-stage-b", "1.0", "b")
	fa.publish()
	dir, rec := t.TempDir(), &recorder{}
	o := importOpts(fa.archive(), dir, rec, "kiln-stage-a", "kiln-stage-b")
	o.Nocheck = true
	for run := 0; run < 2; run++ {
		res, err := Run(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(res[0].Stage1, []string{"kiln-stage-b"}) || res[1].Stage1 != nil {
			t.Fatalf("run %d: stage1 drops %q and %q", run, res[0].Stage1, res[1].Stage1)
		}
		objs := rec.applied[run]
		a, b := objs[1].Map("spec")["build"].(map[string]any), objs[2].Map("spec")["build"].(map[string]any)
		want := map[string]any{"params": []any{map[string]any{"name": "profiles", "value": "stage1"}}}
		if !reflect.DeepEqual(a["bootstrap"], want) || !reflect.DeepEqual(a["params"], []any{map[string]any{"name": "nocheck", "value": "true"}}) {
			t.Fatalf("run %d: kiln-stage-a build %v", run, a)
		}
		if _, ok := b["bootstrap"]; ok {
			t.Fatalf("run %d: kiln-stage-b has bootstrap params: %v", run, b)
		}
	}
}

// TestImportStage1KeepsProfiles: the bootstrap build of a component
// imported with --profiles keeps them next to stage1 (the bootstrap params
// replace the profiles param for that build).
func TestImportStage1KeepsProfiles(t *testing.T) {
	t.Parallel()
	fa := newFakeArchive(t)
	fa.buildDepends["kiln-stage-a"] = "kiln-stage-b <!stage1>"
	fa.addPackage("kiln-stage-a", "1.0", "a")
	fa.publish()
	rec := &recorder{}
	o := importOpts(fa.archive(), t.TempDir(), rec, "kiln-stage-a")
	o.Profiles = []string{"nobiarch"}
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	build := rec.applied[0][1].Map("spec")["build"].(map[string]any)
	want := map[string]any{"params": []any{map[string]any{"name": "profiles", "value": "nobiarch stage1"}}}
	if !reflect.DeepEqual(build["bootstrap"], want) {
		t.Errorf("bootstrap = %v, want %v", build["bootstrap"], want)
	}
}

// TestImportFromXZOnlyArchive: an archive whose Release lists only
// Sources.xz (the security archive) is read like the main one.
func TestImportFromXZOnlyArchive(t *testing.T) {
	t.Parallel()
	fa := newFakeArchive(t)
	fa.xzOnly = true
	fa.addPackage("greet", "1.0+deb12u1", "fixed")
	fa.publish()
	dir, rec := t.TempDir(), &recorder{}
	res, err := Run(context.Background(), importOpts(fa.archive(), dir, rec, "greet"))
	if err != nil || len(res) != 1 || res[0].Version != "1.0+deb12u1" {
		t.Fatalf("import from an xz-only archive: %+v, %v", res, err)
	}
}
