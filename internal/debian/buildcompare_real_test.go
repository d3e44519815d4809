package debian

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSamePackagesRealBinNMU builds a small C package with the real
// dpkg-buildpackage and debhelper three times in the same directory: as
// uploaded, as a binNMU (BinNMU version and BinNMUChangelogEntry prepended
// to debian/changelog, as the builder does), and with a source change.
// The binNMU build's .debs are the same by SamePackages; the changed one
// differs, naming the file.
func TestSamePackagesRealBinNMU(t *testing.T) {
	for _, tool := range []string{"dpkg-buildpackage", "dh", "gcc", "fakeroot"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (apt-get install dpkg-dev debhelper gcc fakeroot)", tool)
		}
	}
	work := t.TempDir()
	orig := buildReal(t, work, "hello", "")
	v, err := BinNMU("1.0-1", 1)
	if err != nil {
		t.Fatal(err)
	}
	entry, err := BinNMUChangelogEntry(BinNMUEntry{Source: "greet", Version: v, Distribution: "bookworm", Arch: HostArch(),
		Reason: "Rebuild against libgreet1 1.0-2.", Date: time.Unix(1700000000, 0)})
	if err != nil {
		t.Fatal(err)
	}
	binNMU := buildReal(t, work, "hello", entry)
	if !strings.Contains(strings.Join(binNMU, " "), "greet_1.0-1+b1_") {
		t.Fatalf("the binNMU build made %v", binNMU)
	}
	// What the comparison must look past is really there.
	contents, err := exec.Command("dpkg-deb", "-c", binNMU[0]).Output()
	if err != nil || !strings.Contains(string(contents), "changelog.Debian."+HostArch()+".gz") {
		t.Fatalf("the binNMU .deb has no changelog.Debian.%s.gz: %v\n%s", HostArch(), err, contents)
	}
	if fields, _ := exec.Command("dpkg-deb", "-f", binNMU[0], "Version", "Source").Output(); !strings.Contains(string(fields), "Version: 1.0-1+b1\nSource: greet (1.0-1)") {
		t.Fatalf("the binNMU .deb's fields:\n%s", fields)
	}
	if same, reason := compareSets(t, orig, binNMU); !same {
		t.Errorf("a binNMU rebuild of unchanged sources differs: %s", reason)
	}
	changed := buildReal(t, work, "hallo", "")
	if same, reason := compareSets(t, orig, changed); same || !strings.Contains(reason, "usr/bin/greet differs") {
		t.Errorf("a source change: same = %v, reason %q; want usr/bin/greet named", same, reason)
	}
}

// buildReal builds package greet 1.0-1 (printing greeting) in work/greet,
// with entry prepended to its changelog, and returns its .debs.
func buildReal(t *testing.T, work, greeting, entry string) []string {
	t.Helper()
	src := filepath.Join(work, "greet")
	if err := os.RemoveAll(src); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"greet.c":              "#include <stdio.h>\nint main(void) { puts(\"" + greeting + "\"); return 0; }\n",
		"debian/control":       "Source: greet\nMaintainer: A <a@example.org>\nBuild-Depends: debhelper-compat (= 13)\nRules-Requires-Root: no\n\nPackage: greet\nArchitecture: any\nDepends: ${shlibs:Depends}, ${misc:Depends}\nDescription: greets\n says hello\n",
		"debian/changelog":     entry + "greet (1.0-1) unstable; urgency=medium\n\n  * Initial release.\n\n -- A <a@example.org>  Sat, 18 Feb 2023 13:33:39 +0100\n",
		"debian/rules":         "#!/usr/bin/make -f\n%:\n\tdh $@\noverride_dh_auto_build:\n\t$(CC) $(CFLAGS) $(CPPFLAGS) $(LDFLAGS) -o greet greet.c\noverride_dh_auto_install:\n\tinstall -D -m 0755 greet debian/greet/usr/bin/greet\n",
		"debian/source/format": "3.0 (native)\n",
		"debian/copyright":     "Files: *\nLicense: public-domain\n",
	}
	for name, content := range files {
		mode := os.FileMode(0o644)
		if name == "debian/rules" {
			mode = 0o755
		}
		writeFile(t, filepath.Join(src, name), []byte(content), mode)
	}
	cmd := exec.Command("dpkg-buildpackage", "-b", "-us", "-uc", "-d")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "DEB_BUILD_OPTIONS=noddebs", "LC_ALL=C.UTF-8")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("dpkg-buildpackage: %v\n%s", err, out)
	}
	return collectDebs(t, work)
}

// collectDebs moves the .debs out of work into a directory of their own.
func collectDebs(t *testing.T, work string) []string {
	t.Helper()
	debs, _ := filepath.Glob(filepath.Join(work, "*.deb"))
	if len(debs) == 0 {
		t.Fatal("dpkg-buildpackage made no .deb")
	}
	out := t.TempDir()
	var moved []string
	for _, d := range debs {
		dest := filepath.Join(out, filepath.Base(d))
		if err := os.Rename(d, dest); err != nil {
			t.Fatal(err)
		}
		moved = append(moved, dest)
	}
	return moved
}

func compareSets(t *testing.T, a, b []string) (bool, string) {
	t.Helper()
	fa, closeA, err := OpenDebFiles(a)
	if err != nil {
		t.Fatal(err)
	}
	defer closeA()
	fb, closeB, err := OpenDebFiles(b)
	if err != nil {
		t.Fatal(err)
	}
	defer closeB()
	same, reason, err := SamePackages(fa, fb)
	if err != nil {
		t.Fatal(err)
	}
	return same, reason
}
