package aptrepo

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pault.ag/go/debian/control"
)

var update = flag.Bool("update", false, "rewrite golden files")

func fakePackage(name, version, arch, source string, size int64, sum string) Package {
	ctl := control.Paragraph{Values: map[string]string{}}
	ctl.Set("Package", name)
	if source != name {
		ctl.Set("Source", source)
	}
	ctl.Set("Version", version)
	ctl.Set("Architecture", arch)
	ctl.Set("Maintainer", "Kiln Test <test@kiln.dev>")
	ctl.Set("Description", "test package "+name+"\nLong description.\n\nSecond paragraph.\n")
	ctl.Set("SHA256", "ignored-from-the-control-file")
	return Package{Name: name, Version: version, Architecture: arch, Source: source, Control: ctl,
		Path: "/nowhere/" + name + ".deb", Size: size, SHA256: sum}
}

func goldenMeta() Meta {
	return Meta{Label: "team/greet", Description: "Kiln application team/greet",
		Architectures: []string{"amd64"}, Date: time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)}
}

func TestBuildIndexGolden(t *testing.T) {
	pkgs := []Package{
		fakePackage("libgreet1", "1.0-1", "arm64", "libgreet", 300, strings.Repeat("b", 64)),
		fakePackage("greet", "2:1.0-1+b1", "all", "greet", 100, strings.Repeat("a", 64)),
		fakePackage("libgreet1", "1.0-1", "amd64", "libgreet", 200, strings.Repeat("c", 64)),
		fakePackage("greet", "2:1.0-1+b1", "all", "greet", 100, strings.Repeat("a", 64)), // same file twice
	}
	idx, err := BuildIndex(goldenMeta(), pkgs)
	must(t, err)
	for _, f := range []struct{ path, golden string }{
		{"dists/stable/Release", "Release.golden"},
		{"dists/stable/main/binary-amd64/Packages", "Packages-amd64.golden"},
		{"dists/stable/main/binary-arm64/Packages", "Packages-arm64.golden"},
	} {
		golden(t, f.golden, idx.Files[f.path])
	}
	// Every index listed in Release is there, also by hash.
	for _, line := range strings.Split(string(idx.Release), "\n") {
		fields := strings.Fields(line)
		if len(fields) != 3 || len(fields[0]) != 64 {
			continue
		}
		dir, _ := filepath.Split(fields[2])
		for _, p := range []string{"dists/stable/" + fields[2], "dists/stable/" + dir + "by-hash/SHA256/" + fields[0]} {
			if data, ok := idx.Files[p]; !ok || sha256Hex(data) != fields[0] {
				t.Errorf("%s missing or not matching its Release line", p)
			}
		}
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	file := filepath.Join("testdata", name)
	if *update {
		must(t, os.WriteFile(file, got, 0o644))
	}
	want, err := os.ReadFile(file)
	must(t, err)
	if string(got) != string(want) {
		t.Errorf("%s differs (go test -update rewrites it):\n%s", name, got)
	}
}

func TestBuildIndexRejects(t *testing.T) {
	if _, err := BuildIndex(goldenMeta(), nil); err == nil {
		t.Fatal("an empty repository was built")
	}
	a := fakePackage("greet", "1.0", "all", "greet", 1, strings.Repeat("a", 64))
	b := fakePackage("greet", "1.0", "all", "greet", 1, strings.Repeat("b", 64))
	b.Path = "/elsewhere/greet-rebuilt.deb"
	_, err := BuildIndex(goldenMeta(), []Package{a, b})
	if err == nil || !strings.Contains(err.Error(), "greet 1.0") || !strings.Contains(err.Error(), "greet-rebuilt.deb") {
		t.Fatalf("err = %v, want one naming the package and both files", err)
	}
}
