package aptrepo

import (
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzReadDeb: any file a tenant's build leaves as *.deb gives a package
// with safe names, or an error; never a panic.
func FuzzReadDeb(f *testing.F) {
	f.Add([]byte("!<arch>\ndebian-binary   1342943816  0     0     100644  4         `\n2.0\n"))
	f.Add([]byte("not a deb"))
	if data, err := os.ReadFile(filepath.Join("testdata", "fuzz-seed.deb")); err == nil {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file := filepath.Join(t.TempDir(), "x.deb")
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		p, err := ReadDeb(file)
		if err != nil {
			return
		}
		pool := p.PoolPath("main")
		if path.Clean(pool) != pool || strings.HasPrefix(pool, "../") || strings.ContainsAny(p.FileName(), "/\\\n ") {
			t.Fatalf("unsafe pool path %q from %q %q %q", p.PoolPath("main"), p.Name, p.Version, p.Architecture)
		}
	})
}
