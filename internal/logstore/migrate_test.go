package logstore

import (
	"os"
	"path/filepath"
	"testing"
)

// TestOpenMovesEarlierLayouts: logs written by earlier versions (build
// logs in logs/<ns>/, tests in logs/tests/<ns>/, releases in
// logs/releases/<ns>/, including namespaces named "tests", "releases" or
// "builds", and a layout half moved by a crash) are read through the store
// afterwards, 0600, and nothing is left in the old places.
func TestOpenMovesEarlierLayouts(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "logs")
	old := map[string]Key{
		"team/b1.log":              {Kind: Build, Namespace: "team", Name: "b1"},
		"tests/b2.log":             {Kind: Build, Namespace: "tests", Name: "b2"},
		"releases/b3.log":          {Kind: Build, Namespace: "releases", Name: "b3"},
		"tests/team/s1/smoke.log":  {Kind: Snapshot, Namespace: "team", Name: "s1", Part: "smoke"},
		"tests/tests/s2/unit.log":  {Kind: Snapshot, Namespace: "tests", Name: "s2", Part: "unit"},
		"tests/builds/s3/e2e.log":  {Kind: Snapshot, Namespace: "builds", Name: "s3", Part: "e2e"},
		"releases/team/r1.log":     {Kind: Release, Namespace: "team", Name: "r1"},
		"releases/releases/r2.log": {Kind: Release, Namespace: "releases", Name: "r2"},
		"team/Build/b0.log":        {Kind: Build, Namespace: "team", Name: "b0"}, // moved before a crash
	}
	for p := range old {
		writeLegacy(t, filepath.Join(dir, p), "log of "+p)
	}
	if err := os.Chmod(filepath.Join(dir, "team/Build/b0.log"), fileMode); err != nil { // moved: narrowed first
		t.Fatal(err)
	}
	for range 2 { // the second Open finds nothing to move
		s, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		for p, k := range old {
			if got := read(t, s, k); got != "log of "+p {
				t.Errorf("log of %s = %q, want the one at %s", k, got, p)
			}
			np, _ := s.Path(k)
			if fi, err := os.Stat(np); err != nil || fi.Mode().Perm() != fileMode {
				t.Errorf("%s: %v, %v; want mode 0600", np, fi.Mode(), err)
			}
		}
	}
	for p, k := range old {
		if k.Kind == Build && filepath.Dir(p) == filepath.Join(k.Namespace, Build) {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, p)); !os.IsNotExist(err) {
			t.Errorf("%s is still there: %v", p, err)
		}
	}
	for _, gone := range []string{"tests/team", "tests/tests", "tests/builds", "releases/team", "releases/releases"} {
		if _, err := os.Stat(filepath.Join(dir, gone)); !os.IsNotExist(err) {
			t.Errorf("directory %s of the earlier layout is still there: %v", gone, err)
		}
	}
}

func writeLegacy(t *testing.T, p, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(text), 0o640); err != nil {
		t.Fatal(err)
	}
}
