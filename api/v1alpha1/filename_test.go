package v1alpha1

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Object names run to 253 characters and run names join two of them: every
// file Kiln names after them must be creatable, and distinct names must
// give distinct files.
func TestFileNameFitsTheFileSystem(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	seen := map[string]string{}
	for _, name := range []string{"b", strings.Repeat("b", 63), strings.Repeat("b", 64), strings.Repeat("b", 251),
		strings.Repeat("b", 253), "test-" + strings.Repeat("s", 253) + "-" + strings.Repeat("t", 253), "test-" + strings.Repeat("s", 253) + "-" + strings.Repeat("u", 253)} {
		for _, ext := range []string{".log", ""} {
			got := FileName(name, ext)
			if other, dup := seen[got]; dup {
				t.Errorf("FileName(%q) = FileName(%q)", name, other)
			}
			seen[got] = name
			if err := os.WriteFile(filepath.Join(dir, got), nil, 0o600); err != nil {
				t.Errorf("name of %d characters: %v", len(name), err)
			}
			if len(name)+len(ext) <= 255 && got != name+ext {
				t.Errorf("FileName changed a name that fits: %q", got)
			}
		}
	}
}
