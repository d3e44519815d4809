package aptrepo

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// buildDeb builds a real .deb with dpkg-deb --build in a temporary
// directory and returns its path. extra is appended to the control file.
func buildDeb(t *testing.T, name, version, arch, extra string) string {
	t.Helper()
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Skip("dpkg-deb not installed (Debian package dpkg; see scripts/test-deps.sh)")
	}
	root := filepath.Join(t.TempDir(), name)
	must(t, os.MkdirAll(filepath.Join(root, "DEBIAN"), 0o755))
	must(t, os.MkdirAll(filepath.Join(root, "usr/share/"+name), 0o755))
	must(t, os.WriteFile(filepath.Join(root, "usr/share/"+name, "hello.txt"), []byte("hello from "+name+" "+version+"\n"), 0o644))
	ctl := fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: %s\nMaintainer: Kiln Test <test@kiln.dev>\n"+
		"Section: misc\nPriority: optional\n%sDescription: test package %s\n A package built by a test.\n .\n Second paragraph.\n",
		name, version, arch, extra, name)
	must(t, os.WriteFile(filepath.Join(root, "DEBIAN/control"), []byte(ctl), 0o644))
	out := filepath.Join(t.TempDir(), name+".deb")
	cmd := exec.Command("dpkg-deb", "--root-owner-group", "--build", root, out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb --build: %v\n%s", err, b)
	}
	return out
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
