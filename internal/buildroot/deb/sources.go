package deb

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"slices"
	"strings"

	debfile "pault.ag/go/debian/deb"

	"github.com/kilnbuild/kiln/internal/buildroot"
)

// Base is what a base buildroot says about itself: its installed
// packages and the archive index (and URL) it was bootstrapped from.
type Base struct {
	Installed []*Entry
	Archive   []*Entry
	Mirror    string
}

// ReadBase reads the dpkg status, the first deb line of
// /etc/apt/sources.list and the Packages lists of arch under
// /var/lib/apt/lists of an unpacked base. Every file is read inside
// rootfs (a link in the image cannot lead out of it).
func ReadBase(rootfs, arch string) (*Base, error) {
	root, err := os.OpenRoot(rootfs)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	b := &Base{}
	if b.Installed, err = readIndexFile(root, "var/lib/dpkg/status", ""); err != nil {
		return nil, fmt.Errorf("the base has no readable dpkg status (is it a Debian root filesystem?): %w", err)
	}
	if b.Mirror, err = mirrorOf(root); err != nil {
		return nil, err
	}
	lists, err := fs.Glob(root.FS(), "var/lib/apt/lists/*_binary-"+arch+"_Packages")
	if err != nil || len(lists) == 0 {
		return nil, fmt.Errorf("the base has no archive index for %s in /var/lib/apt/lists (bootstrap it with debootstrap, which keeps the index it verified)", arch)
	}
	for _, l := range lists {
		entries, err := readIndexFile(root, l, b.Mirror)
		if err != nil {
			return nil, err
		}
		b.Archive = append(b.Archive, entries...)
	}
	return b, nil
}

func readIndexFile(root *os.Root, name, mirror string) ([]*Entry, error) {
	f, err := root.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	entries, err := ReadIndex(f, mirror)
	if err != nil {
		return nil, fmt.Errorf("/%s: %w", name, err)
	}
	return entries, nil
}

// mirrorOf is the archive URL of the first "deb" line of
// /etc/apt/sources.list.
func mirrorOf(root *os.Root) (string, error) {
	f, err := root.Open("etc/apt/sources.list")
	if err != nil {
		return "", fmt.Errorf("the base has no /etc/apt/sources.list naming its archive: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		for i, fld := range fields {
			if i == 0 && fld != "deb" {
				break
			}
			if i > 0 && !strings.HasPrefix(fld, "[") && (strings.HasPrefix(fld, "http://") || strings.HasPrefix(fld, "https://")) {
				return fld, nil
			}
		}
	}
	return "", fmt.Errorf("the base's /etc/apt/sources.list has no deb line with an http(s) archive URL")
}

// ReadMembers reads the .deb files at the top of each group member's
// pulled artifact: dir/<component>/*.deb. artifacts maps a component to
// its repository@digest.
func ReadMembers(dir string, artifacts map[string]string) ([]*Entry, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	var out []*Entry
	for _, comp := range slices.Sorted(maps.Keys(artifacts)) {
		art := artifacts[comp]
		names, _ := fs.Glob(root.FS(), comp+"/*.deb")
		for _, n := range names {
			e, err := readDeb(root, n)
			if err != nil {
				return nil, fmt.Errorf("group member %s (%s): %s: %w", comp, art, path.Base(n), err)
			}
			e.Path, e.Component, e.Artifact = dir+"/"+n, comp, art
			out = append(out, e)
		}
	}
	return out, nil
}

func readDeb(root *os.Root, name string) (*Entry, error) {
	f, err := root.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil || !info.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file")
	}
	d, err := debfile.Load(f, name)
	if err != nil {
		return nil, fmt.Errorf("not a readable .deb: %w", err)
	}
	defer d.Close()
	e := entryOf(d.Control.Values)
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, err
	}
	e.SHA256, e.Filename = hex.EncodeToString(h.Sum(nil)), path.Base(name)
	return e, nil
}

// Packages turns resolved entries into the buildroot's package set.
func Packages(entries []*Entry) []buildroot.Package {
	stage := installStages(entries)
	out := make([]buildroot.Package, 0, len(entries))
	for i, e := range entries {
		out = append(out, buildroot.Package{Name: e.Name, Version: e.Version, Arch: e.Arch, File: fileName(e),
			SHA256: e.SHA256, URL: e.URL, Artifact: e.Artifact, Component: e.Component, Path: e.Path, Stage: stage[i]})
	}
	return out
}

// fileName is name_version_arch.deb, the epoch's colon written %3a as
// in the archive.
func fileName(e *Entry) string {
	return strings.ReplaceAll(fmt.Sprintf("%s_%s_%s.deb", e.Name, e.Version, e.Arch), ":", "%3a")
}

// Format installs .debs with dpkg under fakeroot (the sandbox's user is
// not root) and downloads them with apt's own downloader, which checks
// each file's SHA-256.
func Format() buildroot.Format {
	return buildroot.Format{
		Name: "deb",
		Fetch: func(pkgs []buildroot.Package) []string {
			cmd := []string{"/bin/sh", "-ec", `while [ $# -gt 0 ]; do /usr/lib/apt/apt-helper download-file "$1" "$2" "SHA256:$3"; shift 3; done`, "fetch"}
			for _, p := range pkgs {
				cmd = append(cmd, p.URL, buildroot.PackagesDir+"/"+p.File, p.SHA256)
			}
			return cmd
		},
		Install: func(stages [][]string) []string {
			// One dpkg run per stage: a stage's packages are configured
			// before the next stage's, which pre-depend on them, are unpacked.
			runs := make([]string, len(stages))
			for i, files := range stages {
				runs[i] = "fakeroot dpkg --force-unsafe-io --install " + shellQuote(files)
			}
			return []string{"/bin/sh", "-ec", strings.Join(runs, "\n")}
		},
		Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND=noninteractive",
			"LC_ALL=C.UTF-8", "HOME=/tmp", "FAKEROOTDONTTRYCHOWN=1"},
	}
}
