package aptrepo

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Meta describes a repository: what its Release file says.
type Meta struct {
	Origin, Label string
	// Suite is the distribution in a sources line ("stable"); it is also
	// the Codename.
	Suite string
	// Component is the one archive area ("main").
	Component string
	// Architectures are always listed, even with no package of theirs (a
	// repository of Architecture: all packages needs at least one).
	Architectures []string
	Description   string
	Date          time.Time
}

// Defaults for Meta.
const (
	DefaultSuite     = "stable"
	DefaultComponent = "main"
	DefaultOrigin    = "Kiln"
)

// HostArch is the Debian architecture of this machine (amd64, arm64…).
func HostArch() string {
	switch runtime.GOARCH {
	case "386":
		return "i386"
	case "arm":
		return "armhf"
	case "ppc64le":
		return "ppc64el"
	}
	return runtime.GOARCH
}

func (m Meta) withDefaults() Meta {
	m.Suite = cmp.Or(m.Suite, DefaultSuite)
	m.Component = cmp.Or(m.Component, DefaultComponent)
	m.Origin = cmp.Or(m.Origin, DefaultOrigin)
	m.Label = cmp.Or(m.Label, m.Origin)
	if len(m.Architectures) == 0 {
		m.Architectures = []string{HostArch()}
	}
	if m.Date.IsZero() {
		m.Date = time.Now()
	}
	return m
}

// Index is a repository's metadata: files by path below the repository
// root (dists/SUITE/…), without signatures.
type Index struct {
	Meta  Meta
	Files map[string][]byte
	// Release is dists/SUITE/Release.
	Release []byte
}

// BuildIndex writes the Packages files (plain and gzip, also by hash)
// and the Release file for pkgs. Packages of architecture "all" are
// listed under every architecture.
func BuildIndex(meta Meta, pkgs []Package) (*Index, error) {
	meta = meta.withDefaults()
	if len(pkgs) == 0 {
		return nil, errNoPackages
	}
	pkgs, err := dedupe(pkgs, meta.Component)
	if err != nil {
		return nil, err
	}
	arches := architectures(meta.Architectures, pkgs)
	idx := &Index{Meta: meta, Files: map[string][]byte{}}
	var sums []string
	for _, arch := range arches {
		s, err := idx.addPackages(arch, pkgs)
		if err != nil {
			return nil, err
		}
		sums = append(sums, s...)
	}
	idx.Release = releaseFile(meta, arches, sums)
	idx.Files[path.Join("dists", meta.Suite, "Release")] = idx.Release
	return idx, nil
}

// dedupe sorts pkgs by pool path and drops exact duplicates; two
// different files for the same name, version and architecture are an
// error, as apt could not tell them apart.
func dedupe(pkgs []Package, component string) ([]Package, error) {
	pkgs = slices.Clone(pkgs)
	slices.SortFunc(pkgs, func(a, b Package) int {
		return cmp.Or(cmp.Compare(a.PoolPath(component), b.PoolPath(component)), cmp.Compare(a.SHA256, b.SHA256))
	})
	out := pkgs[:0]
	for i, p := range pkgs {
		if i > 0 && out[len(out)-1].PoolPath(component) == p.PoolPath(component) {
			prev := out[len(out)-1]
			if prev.SHA256 != p.SHA256 {
				return nil, fmt.Errorf("package %s %s (%s) comes from two different .deb files (%s, %s): bump the version of one",
					p.Name, p.Version, p.Architecture, path.Base(prev.Path), path.Base(p.Path))
			}
			continue
		}
		out = append(out, p)
	}
	return out, nil
}

func architectures(base []string, pkgs []Package) []string {
	set := slices.Clone(base)
	for _, p := range pkgs {
		if p.Architecture != "all" {
			set = append(set, p.Architecture)
		}
	}
	slices.Sort(set)
	return slices.Compact(set)
}

// addPackages writes binary-ARCH/Packages(.gz) and their by-hash copies,
// returning their Release lines.
func (idx *Index) addPackages(arch string, pkgs []Package) ([]string, error) {
	var b bytes.Buffer
	for _, p := range pkgs {
		if p.Architecture != arch && p.Architecture != "all" {
			continue
		}
		if err := p.WriteStanza(&b, idx.Meta.Component); err != nil {
			return nil, err
		}
	}
	gz, err := gzipBytes(b.Bytes())
	if err != nil {
		return nil, err
	}
	dir := path.Join(idx.Meta.Component, "binary-"+arch)
	var lines []string
	for _, f := range []struct {
		name string
		data []byte
	}{{"Packages", b.Bytes()}, {"Packages.gz", gz}} {
		name, data := f.name, f.data
		rel := path.Join(dir, name)
		sum := sha256Hex(data)
		idx.Files[path.Join("dists", idx.Meta.Suite, rel)] = data
		idx.Files[path.Join("dists", idx.Meta.Suite, dir, "by-hash", "SHA256", sum)] = data
		lines = append(lines, fmt.Sprintf(" %s %d %s", sum, len(data), rel))
	}
	return lines, nil
}

// gzipBytes compresses deterministically (no name, no time).
func gzipBytes(data []byte) ([]byte, error) {
	var b bytes.Buffer
	zw, err := gzip.NewWriterLevel(&b, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(data); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// releaseFile is dists/SUITE/Release.
func releaseFile(m Meta, arches, sums []string) []byte {
	var b strings.Builder
	field := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "%s: %s\n", k, v)
		}
	}
	field("Origin", m.Origin)
	field("Label", m.Label)
	field("Suite", m.Suite)
	field("Codename", m.Suite)
	field("Date", m.Date.UTC().Format(time.RFC1123))
	field("Architectures", strings.Join(arches, " "))
	field("Components", m.Component)
	field("Description", m.Description)
	field("Acquire-By-Hash", "yes")
	b.WriteString("SHA256:\n" + strings.Join(sums, "\n") + "\n")
	return []byte(b.String())
}
