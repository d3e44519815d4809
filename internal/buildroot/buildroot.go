// Package buildroot composes the root filesystems builds run in: a base
// image plus an exact, resolved set of packages installed into a copy of
// it, in the sandbox and without network (only the download of archive
// packages, verified against their pinned SHA-256, has network).
//
// It is format-neutral: a Format says how to download and install one
// packaging format's files (Debian's .deb with dpkg today; RPM would be the
// same shape with rpm -i). Resolving which packages a build needs is the
// format's business (internal/buildroot/deb for Debian).
//
// A composed buildroot is content-addressed by the base image's digest and
// the sorted package set (Key) and kept in a per-namespace cache: the same
// set on the same base is composed once and reused. The cache is keyed by
// what was authorised: callers resolve the base image through the registry
// and pull group members' packages with the namespace's own rights before
// asking, and a namespace never sees another's cache directory.
package buildroot

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
)

// Package is one package file installed into a buildroot.
type Package struct {
	// Name, Version and Arch identify the package.
	Name    string `json:"name"`
	Version string `json:"version"`
	Arch    string `json:"arch,omitempty"`
	// File is the package's file name (e.g. hello_2.10-3_amd64.deb).
	File string `json:"file"`
	// SHA256 is the hex SHA-256 of the file; it is verified before install.
	SHA256 string `json:"sha256"`
	// URL is where an archive package is downloaded from; empty for a
	// group member's package.
	URL string `json:"url,omitempty"`
	// Artifact is the group member's artifact (repository@digest) holding
	// the file; empty for an archive package.
	Artifact string `json:"artifact,omitempty"`
	// Component is the group member that built the file.
	Component string `json:"component,omitempty"`
	// Path is the file on this host (a pulled member artifact's); not part
	// of the key.
	Path string `json:"-"`
	// Stage is the installation run the package belongs to, from 0: each
	// stage is installed (and configured) before the next is unpacked, for
	// packages that need others configured first (Debian's Pre-Depends).
	// It follows from the packages' metadata, so it is not part of the key.
	Stage int `json:"-"`
}

// String names the package as name=version (arch).
func (p Package) String() string {
	if p.Arch == "" {
		return p.Name + "=" + p.Version
	}
	return p.Name + "=" + p.Version + " (" + p.Arch + ")"
}

// Source says where the file comes from: the member's artifact or the URL.
func (p Package) Source() string {
	if p.Artifact != "" {
		return p.Artifact
	}
	return p.URL
}

// Sorted returns pkgs sorted by name, version, arch and digest.
func Sorted(pkgs []Package) []Package {
	out := slices.Clone(pkgs)
	slices.SortFunc(out, func(a, b Package) int {
		return strings.Compare(a.sortKey(), b.sortKey())
	})
	return out
}

func (p Package) sortKey() string {
	return p.Name + "\x00" + p.Version + "\x00" + p.Arch + "\x00" + p.SHA256
}

// Key is the content address of a buildroot: the base image digest and
// every package's name, version, arch and SHA-256, in sorted order. Where
// a file comes from (archive URL, member artifact) is not part of it: the
// same bytes give the same buildroot.
func Key(base string, pkgs []Package) string {
	h := sha256.New()
	fmt.Fprintf(h, "kiln buildroot v1\nbase %s\n", base)
	for _, p := range Sorted(pkgs) {
		fmt.Fprintf(h, "package %s %s %s %s\n", p.Name, p.Version, p.Arch, p.SHA256)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}
