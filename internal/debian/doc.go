// Package debian reads Debian source package metadata: debian/control
// (source and binary paragraphs, build dependency relations with
// alternatives, version constraints, architecture qualifiers and
// restrictions, and build profiles), debian/changelog and dpkg versions.
// It also makes binNMU versions and changelog entries, and compares built
// .deb files ignoring what a binNMU rebuild stamps into them. Parsing of
// relations, versions, changelogs and .deb archives is done by
// pault.ag/go/debian; this package adds line numbers to errors, evaluates
// architecture and profile restrictions, and the Kiln-specific parts. See
// README.md.
package debian
