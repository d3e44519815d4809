package aptrepo

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteTree(t *testing.T) {
	deb := buildDeb(t, "greet", "1.0-1", "all", "")
	p, err := ReadDeb(deb)
	must(t, err)
	s, err := Keys{Dir: t.TempDir()}.Signer(Namespace{"team", "1"})
	must(t, err)
	dir := t.TempDir()
	must(t, Write(dir, goldenMeta(), []Package{p}, s))
	for _, f := range []string{"dists/stable/Release", "dists/stable/InRelease", "dists/stable/Release.gpg",
		"dists/stable/main/binary-amd64/Packages", "dists/stable/main/binary-amd64/Packages.gz",
		"pool/main/g/greet/greet_1.0-1_all.deb", "key.asc"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	in, err := os.ReadFile(filepath.Join(dir, "dists/stable/InRelease"))
	must(t, err)
	rel, err := os.ReadFile(filepath.Join(dir, "dists/stable/Release"))
	must(t, err)
	if !strings.Contains(string(in), string(rel)) {
		t.Fatal("InRelease does not hold the Release file")
	}
}

func TestGenerationsAtomic(t *testing.T) {
	g := Generations{Dir: t.TempDir(), Keep: 2}
	boom := errors.New("crashed half-way")
	_, err := g.Ensure("k1", func(dir string) error {
		must(t, os.WriteFile(filepath.Join(dir, "Release"), []byte("half"), 0o644))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if gens, _ := g.List(); len(gens) != 0 {
		t.Fatalf("a failed build left generations %v", gens)
	}
	// What a kill -9 during a build leaves: a temporary directory with a
	// half-written tree. It is never a generation.
	must(t, os.MkdirAll(filepath.Join(g.Dir, tmpPrefix+"killed", "dists/stable"), 0o755))
	must(t, os.WriteFile(filepath.Join(g.Dir, tmpPrefix+"killed", "dists/stable/Release"), []byte("Origin: Ki"), 0o644))
	if gens, _ := g.List(); len(gens) != 0 {
		t.Fatalf("a crashed build is listed as a generation: %v", gens)
	}
	built := 0
	build := func(dir string) error {
		built++
		return os.WriteFile(filepath.Join(dir, "Release"), []byte("ok"), 0o644)
	}
	for _, k := range []string{"k1", "k2", "k1", "k3", "k4"} {
		_, err := g.Ensure(k, build)
		must(t, err)
	}
	if built != 4 {
		t.Fatalf("built %d generations, want 4 (k1 reused)", built)
	}
	gens, err := g.List()
	must(t, err)
	if len(gens) != 2 || filepath.Base(gens[0]) != "k4" || filepath.Base(gens[1]) != "k3" {
		t.Fatalf("generations %v, want k4 and k3", gens)
	}
	if _, err := g.Ensure("../x", build); err == nil {
		t.Fatal("a key with a slash was accepted")
	}
}
