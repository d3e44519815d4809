package trace

import (
	"fmt"
	"strings"

	packageurl "github.com/package-url/packageurl-go"
)

// Package is a purl in canonical form (github.com/package-url/packageurl-go)
// split the way the index stores it.
type Package struct {
	// Key is the purl without qualifiers or subpath: the node's key.
	Key string
	// Base is the purl without version: the node's lookup value.
	Base    string
	Type    string
	Version string
}

// ParsePackage canonicalises a purl as an SBOM lists it.
func ParsePackage(s string) (Package, error) {
	p, err := packageurl.FromString(strings.TrimSpace(s))
	if err != nil {
		return Package{}, fmt.Errorf("purl %q: %w", s, err)
	}
	return packageOf(p), nil
}

func packageOf(p packageurl.PackageURL) Package {
	p.Qualifiers, p.Subpath = nil, ""
	out := Package{Type: p.Type, Version: p.Version}
	out.Key = p.ToString()
	p.Version = ""
	out.Base = p.ToString()
	return out
}

// PackageQuery selects packages: a purl whose version may be exact,
// absent (every version) or a range — `pkg:golang/golang.org/x/net@<0.23.0`,
// `pkg:npm/lodash@>=4.0.0|<4.17.21`, or `…@vers:golang/>=0.1.0|<0.23.0`.
type PackageQuery struct {
	Base  string
	Type  string
	Exact string
	Range *VersionRange
}

// ParsePackageQuery parses a purl whose version may be a range.
func ParsePackageQuery(s string) (PackageQuery, error) {
	p, err := packageurl.FromString(strings.TrimSpace(s))
	if err != nil {
		return PackageQuery{}, fmt.Errorf("purl %q: %w (write pkg:TYPE/NAMESPACE/NAME[@VERSION|@RANGE], e.g. pkg:golang/golang.org/x/net@<0.23.0)", s, err)
	}
	version := p.Version
	pkg := packageOf(p)
	q := PackageQuery{Base: pkg.Base, Type: pkg.Type}
	switch {
	case version == "":
	case strings.HasPrefix(version, "vers:"):
		scheme, cons, ok := strings.Cut(strings.TrimPrefix(version, "vers:"), "/")
		if !ok || !strings.EqualFold(scheme, p.Type) {
			return q, fmt.Errorf("purl %q: a vers range must be vers:%s/CONSTRAINTS", s, p.Type)
		}
		q.Range, err = ParseVersionRange(p.Type, cons)
	case strings.ContainsAny(version, "<>=!|*"):
		q.Range, err = ParseVersionRange(p.Type, version)
	default:
		q.Exact = version
	}
	if err != nil {
		return q, fmt.Errorf("purl %q: %w", s, err)
	}
	return q, nil
}

// Matches reports whether a package version is selected.
func (q PackageQuery) Matches(version string) bool {
	switch {
	case q.Range != nil:
		return q.Range.Contains(version)
	case q.Exact != "":
		return version != "" && CompareVersions(q.Type, version, q.Exact) == 0
	}
	return true
}

// String renders the query.
func (q PackageQuery) String() string {
	switch {
	case q.Range != nil:
		return q.Base + "@" + q.Range.String()
	case q.Exact != "":
		return q.Base + "@" + q.Exact
	}
	return q.Base
}
