package trace

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/kilnbuild/kiln/internal/lineage"
)

// Ref is where a trace starts, parsed from what a user typed.
type Ref struct {
	// Text is the reference as given.
	Text string
	// Matches select the start nodes (several kinds may be tried).
	Matches []lineage.Match
	// Package, when set, selects package nodes by version.
	Package *PackageQuery
	// What describes the reference for messages ("artifact sha256:…").
	What string
}

var (
	hexRE    = regexp.MustCompile(`^[0-9a-f]+$`)
	digestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	nameRE   = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`)
)

// objectKinds are the references by kind/NAME, resolved in a namespace.
var objectKinds = map[string]lineage.NodeKind{
	"build": lineage.KindBuild, "builds": lineage.KindBuild, "b": lineage.KindBuild,
	"snapshot": lineage.KindSnapshot, "snapshots": lineage.KindSnapshot,
	"release": lineage.KindRelease, "releases": lineage.KindRelease, "rel": lineage.KindRelease,
}

// ParseRef parses a start reference. ns is the namespace that names
// (build/NAME, a bare NAME) are looked up in; content references (digests,
// repositories, sources, commits, purls) are looked up in every namespace
// (the engine keeps those the caller can read).
//
//	build/NAME  snapshot/NAME  release/NAME  NAME     an object of namespace ns
//	REPOSITORY@sha256:HEX  sha256:HEX                 an artifact (or destination, step image…)
//	https://…/repo.git[@COMMIT]  file:///…[@COMMIT]   a source, or one of its commits
//	COMMIT (40 or 64 hex digits)                      a commit of any source
//	pkg:TYPE/NAME[@VERSION|@RANGE]                    SBOM packages
func ParseRef(s, ns string) (Ref, error) {
	s = strings.TrimSpace(s)
	r := Ref{Text: s}
	switch {
	case s == "":
		return r, fmt.Errorf("empty reference: give an artifact, build, snapshot, release, source, commit or purl")
	case strings.HasPrefix(strings.ToLower(s), "pkg:"):
		return packageRef(r, s)
	case digestRE.MatchString(s):
		return digestRef(r, s), nil
	case strings.HasPrefix(s, "sha256:"):
		return r, fmt.Errorf("%q: a digest is sha256: followed by 64 lower-case hex digits", s)
	case isURL(s):
		return sourceRef(r, s)
	case hexRE.MatchString(s) && (len(s) == 40 || len(s) == 64):
		r.Matches, r.What = []lineage.Match{{Kind: lineage.KindCommit, Alt: s}}, "commit "+s
		return r, nil
	case strings.Contains(s, "@sha256:"):
		return repositoryRef(r, s)
	}
	return objectRef(r, s, ns)
}

func packageRef(r Ref, s string) (Ref, error) {
	q, err := ParsePackageQuery(s)
	if err != nil {
		return r, err
	}
	r.Package, r.What = &q, "package "+q.String()
	r.Matches = []lineage.Match{{Kind: lineage.KindPackage, Alt: q.Base}}
	return r, nil
}

// digestRef: an artifact first, then whatever else has that digest.
func digestRef(r Ref, d string) Ref {
	r.What = "digest " + d
	for _, k := range []lineage.NodeKind{lineage.KindArtifact, lineage.KindDestination, lineage.KindImage, lineage.KindPipeline, lineage.KindFile} {
		r.Matches = append(r.Matches, lineage.Match{Kind: k, Alt: d})
	}
	return r
}

func repositoryRef(r Ref, s string) (Ref, error) {
	_, d, _ := strings.Cut(s, "@")
	if !digestRE.MatchString(d) {
		return r, fmt.Errorf("%q: the digest after @ must be sha256: followed by 64 lower-case hex digits", s)
	}
	r.What = "artifact " + s
	r.Matches = []lineage.Match{{Kind: lineage.KindArtifact, Key: s}, {Kind: lineage.KindDestination, Key: s}}
	return r, nil
}

func isURL(s string) bool {
	return strings.Contains(s, "://") || strings.HasPrefix(s, "git+") || strings.HasPrefix(s, "git@")
}

// sourceRef: URL or URL@COMMIT (the last @ followed by hex digits only).
func sourceRef(r Ref, s string) (Ref, error) {
	url, sha := s, ""
	if i := strings.LastIndex(s, "@"); i > 0 && hexRE.MatchString(s[i+1:]) {
		url, sha = s[:i], s[i+1:]
	}
	url = SourceURL(url)
	if sha == "" {
		r.What = "source " + url
		r.Matches = []lineage.Match{{Kind: lineage.KindSource, Key: url}}
		return r, nil
	}
	if len(sha) != 40 && len(sha) != 64 {
		return r, fmt.Errorf("%q: give the full commit (40 or 64 hex digits), not an abbreviation", s)
	}
	r.What = "commit " + url + "@" + sha
	r.Matches = []lineage.Match{{Kind: lineage.KindCommit, Key: url + "@" + sha}}
	return r, nil
}

// SourceURL is the form sources are indexed under: without git+ and a
// trailing slash.
func SourceURL(url string) string {
	return strings.TrimRight(strings.TrimPrefix(url, "git+"), "/")
}

func objectRef(r Ref, s, ns string) (Ref, error) {
	kind, name, qualified := strings.Cut(s, "/")
	if !qualified {
		kind, name = "", s
	}
	if !nameRE.MatchString(name) {
		return r, fmt.Errorf("%q is not a reference Kiln knows: use build/NAME, snapshot/NAME, release/NAME, REPOSITORY@sha256:…, sha256:…, a git URL[@COMMIT], a commit or a purl (pkg:…)", s)
	}
	if ns == "" {
		return r, fmt.Errorf("%q names an object: give its namespace (-n)", s)
	}
	if !qualified {
		r.What = "build, snapshot or release " + ns + "/" + name
		for _, k := range []lineage.NodeKind{lineage.KindBuild, lineage.KindSnapshot, lineage.KindRelease} {
			r.Matches = append(r.Matches, lineage.Match{Kind: k, Key: name, Namespace: ns})
		}
		return r, nil
	}
	k, ok := objectKinds[strings.ToLower(kind)]
	if !ok {
		return r, fmt.Errorf("%q: unknown kind %q: use build/, snapshot/ or release/", s, kind)
	}
	r.What = string(k) + " " + ns + "/" + name
	r.Matches = []lineage.Match{{Kind: k, Key: name, Namespace: ns}}
	return r, nil
}
