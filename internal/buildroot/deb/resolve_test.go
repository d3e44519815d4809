package deb

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func universe(t *testing.T, members ...*Entry) *Universe {
	t.Helper()
	read := func(name, mirror string) []*Entry {
		f, err := os.Open("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		e, err := ReadIndex(f, mirror)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	return &Universe{Arch: "amd64", Members: members, Installed: read("status", ""), Archive: read("Packages", "http://deb.example/debian/")}
}

func rels(t *testing.T, s string) []Relation {
	t.Helper()
	r, err := ParseRelations(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func names(es []*Entry) string {
	var out []string
	for _, e := range es {
		out = append(out, e.Name+"="+e.Version)
	}
	return strings.Join(out, " ")
}

func TestResolveTransitiveFromArchive(t *testing.T) {
	got, err := universe(t).Resolve(rels(t, "libfoo-dev (>= 1.1)"))
	if err != nil {
		t.Fatal(err)
	}
	// libc6 is in the base; pkgconf's Pre-Depends come along; the newest
	// libfoo-dev wins; nothing else is installed.
	if want := "libfoo-dev=1.2-1 libfoo1=1.2-1 pkgconf=1.8.1-1 pkgconf-bin=1.8.1-1"; names(got) != want {
		t.Fatalf("resolved %q, want %q", names(got), want)
	}
	if got[0].URL != "http://deb.example/debian/pool/main/f/foo/libfoo-dev_1.2-1_amd64.deb" || got[0].SHA256 == "" {
		t.Fatalf("libfoo-dev not pinned to its archive URL and digest: %+v", got[0])
	}
}

func TestResolvePrefersGroupMembers(t *testing.T) {
	member := &Entry{Name: "libfoo-dev", Version: "1.0-1+kiln1", Arch: "amd64", SHA256: "ab", Path: "/deps/foo/libfoo-dev.deb",
		Component: "foo", Artifact: "r/foo@sha256:1", depends: "libfoo1 (= 1.2-1)"}
	// The archive has a newer libfoo-dev, but the group builds it.
	got, err := universe(t, member).Resolve(rels(t, "libfoo-dev"))
	if err != nil {
		t.Fatal(err)
	}
	if got[0] != member {
		t.Fatalf("libfoo-dev came from %s, want the group member", got[0].origin())
	}
	if names(got) != "libfoo-dev=1.0-1+kiln1 libfoo1=1.2-1" {
		t.Fatalf("resolved %q", names(got))
	}
}

func TestResolveVirtualAndAlternatives(t *testing.T) {
	got, err := universe(t).Resolve(rels(t, "nosuch | debhelper-compat (= 13), armonly | pkg-config"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "debhelper-compat-provider=13.11 pkgconf=1.8.1-1 pkgconf-bin=1.8.1-1"; names(got) != want {
		t.Fatalf("resolved %q, want %q", names(got), want)
	}
}

func TestResolveUnresolvable(t *testing.T) {
	cases := []struct{ deps, missing, why, chain string }{
		{"libbar-dev", "libbar-dev", "no package of that name", "Build-Depends"},
		{"libfoo-dev (>= 2)", "libfoo-dev", "found libfoo-dev 1.2-1 (archive), libfoo-dev 1.0-1 (archive)", "Build-Depends"},
		{"debhelper-compat (= 12)", "debhelper-compat", "no package of that name", "Build-Depends"},
		{"armonly", "armonly", "no package of that name", "Build-Depends"},
		{"libc6 (>= 3)", "libc6", "libc6 2.36-9+deb12u13 (base)", "Build-Depends"},
		// Only configuration files left: not installed.
		{"removed-thing", "removed-thing", "no package of that name", "Build-Depends"},
	}
	for _, c := range cases {
		_, err := universe(t).Resolve(rels(t, c.deps))
		var u *Unresolvable
		if !errors.As(err, &u) {
			t.Fatalf("%s: got %v, want Unresolvable", c.deps, err)
		}
		if u.Missing() != c.missing || !strings.Contains(u.Why, c.why) || strings.Join(u.Chain, " <- ") != c.chain {
			t.Errorf("%s: got %q (missing %q)", c.deps, err, u.Missing())
		}
	}
}

func TestResolveUnresolvableTransitiveNamesChain(t *testing.T) {
	member := &Entry{Name: "libbaz-dev", Version: "1", Arch: "amd64", Path: "/x.deb", Component: "baz", depends: "libqux1 (>= 4)"}
	_, err := universe(t, member).Resolve(rels(t, "libbaz-dev"))
	var u *Unresolvable
	if !errors.As(err, &u) || u.Missing() != "libqux1" || strings.Join(u.Chain, " <- ") != "Build-Depends <- libbaz-dev" {
		t.Fatalf("got %v", err)
	}
	if !strings.Contains(err.Error(), "unresolvable build dependency libqux1 (>= 4) (needed by Build-Depends <- libbaz-dev)") {
		t.Fatalf("message %q", err)
	}
}

func TestReadIndexErrors(t *testing.T) {
	if _, err := ReadIndex(strings.NewReader("Version: 1\n\n"), ""); err == nil {
		t.Fatal("a paragraph without Package was accepted")
	}
	if _, err := (&Entry{Name: "x", depends: "foo (>= "}).Depends(); err == nil {
		t.Fatal("a malformed Depends was accepted")
	}
}

func TestReadIndexKeepsFoldedFields(t *testing.T) {
	idx := "Package: a\nVersion: 1\nDescription: x\n more\nDepends: b,\n c (>= 2)\nSHA256: 00\n\n\nPackage: b\nVersion: 2\n"
	got, err := ReadIndex(strings.NewReader(idx), "http://m/")
	if err != nil || len(got) != 2 {
		t.Fatalf("read %d entries: %v", len(got), err)
	}
	deps, err := got[0].Depends()
	if err != nil || len(deps) != 2 || deps[1].String() != "c (>= 2)" {
		t.Fatalf("folded Depends read as %v (%v)", deps, err)
	}
	if _, err := ReadIndex(strings.NewReader("Package: a\nnot a field\n"), ""); err == nil {
		t.Fatal("a line that is not a field was accepted")
	}
}
