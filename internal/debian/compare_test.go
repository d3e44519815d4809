package debian

import (
	"bytes"
	"compress/gzip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// pkgSpec describes a binary package to build with dpkg-deb.
type pkgSpec struct {
	version  string
	source   string            // Source: field, "" for none
	depends  string            // Depends: field, "" for none
	files    map[string]string // path → content
	modes    map[string]os.FileMode
	binNMU   string // a binNMU changelog entry written to changelog.Debian.amd64.gz
	mtime    time.Time
	compress string // dpkg-deb -Z
}

const baseChangelog = "greet (1.0-1) unstable; urgency=medium\n\n  * Initial release.\n\n -- A Packager <a@example.org>  Sat, 18 Feb 2023 13:33:39 +0100\n"

// buildDeb builds package greet with the real dpkg-deb and returns its path.
func buildDeb(t *testing.T, spec pkgSpec) string {
	t.Helper()
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Skip("dpkg-deb is not installed (apt-get install dpkg)")
	}
	root := filepath.Join(t.TempDir(), "root")
	files := map[string]string{"usr/bin/greet": "#!/bin/sh\necho hello\n"}
	for k, v := range spec.files {
		files[k] = v
	}
	for name, content := range files {
		writeFile(t, filepath.Join(root, name), []byte(content), spec.modes[name])
	}
	writeFile(t, filepath.Join(root, "usr/share/doc/greet/changelog.Debian.gz"), gz(t, baseChangelog), 0)
	if spec.binNMU != "" {
		writeFile(t, filepath.Join(root, "usr/share/doc/greet/changelog.Debian.amd64.gz"), gz(t, spec.binNMU), 0)
	}
	writeFile(t, filepath.Join(root, "DEBIAN/control"), []byte(controlText(spec)), 0)
	writeFile(t, filepath.Join(root, "DEBIAN/md5sums"), md5sums(t, root), 0)
	touchAll(t, root, spec.mtime)
	out := filepath.Join(t.TempDir(), "greet_"+spec.version+"_amd64.deb")
	z := spec.compress
	if z == "" {
		z = "xz"
	}
	cmd := exec.Command("dpkg-deb", "--root-owner-group", "-Z"+z, "--build", root, out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb: %v\n%s", err, b)
	}
	return out
}

func controlText(spec pkgSpec) string {
	s := "Package: greet\nVersion: " + spec.version + "\nArchitecture: amd64\nMaintainer: A Packager <a@example.org>\nInstalled-Size: 10\n"
	if spec.source != "" {
		s += "Source: " + spec.source + "\n"
	}
	if spec.depends != "" {
		s += "Depends: " + spec.depends + "\n"
	}
	return s + "Section: utils\nPriority: optional\nDescription: greets\n says hello\n"
}

func writeFile(t *testing.T, path string, data []byte, mode os.FileMode) {
	t.Helper()
	if mode == 0 {
		mode = 0o644
		if strings.Contains(path, "/bin/") {
			mode = 0o755
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func gz(t *testing.T, s string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.ModTime = time.Now() // gzip headers differ between builds
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// md5sums computes DEBIAN/md5sums with the real md5sum, as dh_md5sums does.
func md5sums(t *testing.T, root string) []byte {
	t.Helper()
	cmd := exec.Command("sh", "-c", "find usr -type f | sort | xargs md5sum")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("md5sum: %v", err)
	}
	return out
}

func touchAll(t *testing.T, root string, when time.Time) {
	t.Helper()
	if when.IsZero() {
		when = time.Unix(1676723619, 0)
	}
	err := filepath.Walk(root, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Chtimes(p, when, when)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func compareDebs(t *testing.T, a, b string) (bool, string) {
	t.Helper()
	fa, closeA, err := OpenDebFiles([]string{a})
	if err != nil {
		t.Fatal(err)
	}
	defer closeA()
	fb, closeB, err := OpenDebFiles([]string{b})
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

func binNMUSpec(t *testing.T) pkgSpec {
	entry, err := BinNMUChangelogEntry(BinNMUEntry{Source: "greet", Version: "1.0-1+b1", Distribution: "bookworm", Arch: "amd64", Reason: "Rebuild against libgreet1 1.0-2.", Date: time.Unix(1700000000, 0)})
	if err != nil {
		t.Fatal(err)
	}
	return pkgSpec{
		version: "1.0-1+b1", source: "greet (1.0-1)", depends: "greet-data (= 1.0-1+b1)",
		binNMU: entry, mtime: time.Unix(1700000000, 0), compress: "gzip",
	}
}

func TestSamePackagesBinNMUOnly(t *testing.T) {
	t.Parallel()
	orig := buildDeb(t, pkgSpec{version: "1.0-1", depends: "greet-data (= 1.0-1)"})
	rebuilt := buildDeb(t, binNMUSpec(t))
	if same, reason := compareDebs(t, orig, rebuilt); !same {
		t.Errorf("a binNMU rebuild with the same content differs: %s", reason)
	}
}

func TestSamePackagesContentChange(t *testing.T) {
	t.Parallel()
	orig := buildDeb(t, pkgSpec{version: "1.0-1", depends: "greet-data (= 1.0-1)"})
	cases := []struct {
		name string
		edit func(*pkgSpec)
		want string
	}{
		{"content", func(s *pkgSpec) { s.files = map[string]string{"usr/bin/greet": "#!/bin/sh\necho hallo\n"} }, "greet:amd64: usr/bin/greet differs (type 0 mode 755 owner 0:0 (root:root) link \"\" sha256:"},
		{"new file", func(s *pkgSpec) { s.files = map[string]string{"usr/share/greet/extra": "x"} }, "greet:amd64: usr/share/greet added"},
		{"mode", func(s *pkgSpec) { s.modes = map[string]os.FileMode{"usr/bin/greet": 0o700} }, "greet:amd64: usr/bin/greet differs (type 0 mode 755"},
		{"maintainer script", func(s *pkgSpec) {
			s.files = map[string]string{"DEBIAN/postinst": "#!/bin/sh\nexit 0\n"}
			s.modes = map[string]os.FileMode{"DEBIAN/postinst": 0o755}
		}, "greet:amd64: control member postinst added"},
		{"dependency", func(s *pkgSpec) { s.depends = "greet-data (= 1.0-1+b1), libgreet1 (>= 1.0-2)" }, "greet:amd64: control field Depends differs"},
		{"changelog", func(s *pkgSpec) {
			s.binNMU = "greet (1.0-2) unstable; urgency=low\n\n  * A real upload.\n\n -- A <a@b.c>  Sat, 18 Feb 2023 13:33:39 +0100\n"
		}, "greet:amd64: usr/share/doc/greet/changelog.Debian.amd64.gz added"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			spec := binNMUSpec(t)
			tc.edit(&spec)
			same, reason := compareDebs(t, orig, buildDeb(t, spec))
			if same || !strings.Contains(reason, tc.want) {
				t.Errorf("same = %v, reason %q; want a difference containing %q", same, reason, tc.want)
			}
		})
	}
}

func TestSamePackagesSets(t *testing.T) {
	t.Parallel()
	orig := buildDeb(t, pkgSpec{version: "1.0-1"})
	other := buildDeb(t, pkgSpec{version: "1.0-1", files: map[string]string{"usr/bin/x": "x"}})
	files, closeAll, err := OpenDebFiles([]string{orig, other})
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll()
	if _, _, err := SamePackages(files, nil); err == nil || !strings.Contains(err.Error(), "are both package greet:amd64") {
		t.Errorf("two files of one package: error = %v", err)
	}
	if same, reason, err := SamePackages(files[:1], nil); err != nil || same || reason != "package greet:amd64 is not built any more" {
		t.Errorf("a package gone: %v %q %v", same, reason, err)
	}
	if same, reason, err := SamePackages(nil, files[:1]); err != nil || same || reason != "package greet:amd64 is new" {
		t.Errorf("a new package: %v %q %v", same, reason, err)
	}
	junk := DebFile{Name: "junk.deb", Data: strings.NewReader("!<arch>\nnot really")}
	if _, _, err := SamePackages([]DebFile{junk}, nil); err == nil || !strings.Contains(err.Error(), "reading junk.deb: not a .deb") {
		t.Errorf("junk: error = %v", err)
	}
}

func TestOpenDebFilesRefusesLinks(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	link := filepath.Join(dir, "evil.deb")
	if err := os.Symlink("/etc/hostname", link); err != nil {
		t.Fatal(err)
	}
	if _, _, err := OpenDebFiles([]string{link}); err == nil {
		t.Error("a symbolic link was opened")
	}
	if _, _, err := OpenDebFiles([]string{dir}); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("a directory: %v", err)
	}
}
