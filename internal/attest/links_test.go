package attest

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// secretOutside writes a go.mod-shaped secret (so that a parse error would
// quote it) outside the trees the SBOM reads.
func secretOutside(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "keys", "secret.key")
	must(t, os.MkdirAll(filepath.Dir(p), 0o700))
	must(t, os.WriteFile(p, []byte("SECRET-7f3a9c\n"), 0o600))
	return p
}

// TestSBOMManifestLinksLeaving: a go.mod, package.json or
// package-lock.json that is a link out of the repository fails the SBOM
// with an error naming it; the secret is never read into the error.
func TestSBOMManifestLinksLeaving(t *testing.T) {
	t.Parallel()
	secret := secretOutside(t)
	cases := map[string]map[string]string{
		"go.mod is a symbolic link leaving the repository":            {"go.mod": secret},
		"package.json is a symbolic link leaving the repository":      {"package.json": strings.Repeat("../", 30) + secret[1:]},
		"package-lock.json is a symbolic link leaving the repository": {"package-lock.json": "/proc/self/root" + secret},
	}
	for want, links := range cases {
		src := t.TempDir()
		writeTree(t, src, map[string]string{"package.json": `{"dependencies":{"a":"1.0.0"}}`})
		for name, target := range links {
			_ = os.Remove(filepath.Join(src, name))
			must(t, os.Symlink(target, filepath.Join(src, name)))
		}
		_, err := SBOM(SBOMInput{Artifact: testArtifact, SourceDir: src})
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "SECRET-7f3a9c") {
			t.Errorf("%s: %v", want, err)
		}
	}
}

// TestSBOMFilesNeverFollowLinks: the artifact's links and special files
// are not listed and never read.
func TestSBOMFilesNeverFollowLinks(t *testing.T) {
	t.Parallel()
	secret := secretOutside(t)
	out := t.TempDir()
	writeTree(t, out, map[string]string{"bin/tool": "binary"})
	must(t, os.Symlink(secret, filepath.Join(out, "key")))
	must(t, os.Symlink(filepath.Dir(secret), filepath.Join(out, "keys")))
	must(t, syscall.Mkfifo(filepath.Join(out, "pipe"), 0o644))
	doc, err := SBOM(SBOMInput{Artifact: testArtifact, OutputDir: out})
	must(t, err)
	var names []string
	for _, f := range doc.Files {
		names = append(names, f.FileName)
	}
	if strings.Join(names, ",") != "./bin/tool" {
		t.Fatalf("files %v", names)
	}
}
