// Package debimport is `kiln import debian`: it fetches Debian source
// packages from an apt archive, verifying the chain InRelease signature →
// Sources index checksum → .dsc and source file checksums, unpacks them
// with dpkg-source, commits each into its own git repository and applies an
// Application and one Component per package that builds with the debian
// catalog pipeline. See README.md.
package debimport
