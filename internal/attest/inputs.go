// Package attest produces and checks the evidence a trusted builder attaches
// to what it builds: an SPDX SBOM, a signed SLSA v1 provenance and a cosign
// signature, pushed next to the artifact with cosign's conventions so that
// `cosign verify` and `cosign verify-attestation` accept them. Signing
// happens in Kiln's own process, never in a build sandbox. See README.md.
package attest

import (
	"encoding/hex"
	"fmt"
	"strings"
)

// Artifact is an OCI artifact by repository and manifest digest.
type Artifact struct {
	// Name is the repository, e.g. "kiln.example.com/team/greet".
	Name string
	// Digest is the manifest digest, "sha256:<hex>".
	Digest string
}

// Source is the git checkout a build ran on.
type Source struct {
	// URL is the repository URL as cloned, e.g. "https://git.example/x.git".
	URL string
	// Ref is the branch or tag asked for ("refs/heads/main"); may be empty.
	Ref string
	// Commit is the commit built (40 hex digits for SHA-1 repositories).
	Commit string
	// TreeHash is the git tree of the built directory (optional).
	TreeHash string
}

// Pipeline identifies the pipeline a build ran.
type Pipeline struct {
	// Source is "repository:.kiln/pipeline.yaml", "inline" or "catalog:NAME".
	Source string
	// Digest is the sha256 of the compiled pipeline ("sha256:<hex>" or hex).
	Digest string
}

// StepImage is the image one pipeline step ran in.
type StepImage struct {
	Task, Step string
	// Image is the reference as written in the pipeline, or "host".
	Image string
	// Digest is the resolved manifest digest (empty for "host").
	Digest string
}

// File is a file fetched before the build (a prefetched input) or produced
// beside it (the build log).
type File struct {
	// Name is a short label, e.g. the file name.
	Name string
	// URL is where it came from (optional for byproducts).
	URL string
	// SHA256 is its digest ("sha256:<hex>" or hex).
	SHA256 string
}

// Materials are what a build consumed; the provenance and the SBOM both
// list them.
type Materials struct {
	Source       Source
	Pipeline     Pipeline
	Steps        []StepImage
	Dependencies []Artifact // artifacts of other components used as inputs
	Prefetched   []File
	// Packages were installed into the build's composed buildroot.
	Packages []Package
}

// Package is a distribution package installed into a build's buildroot.
type Package struct {
	// Type is the package URL type: "deb" (or "rpm").
	Type string
	// Distro names the distribution in the package URL, e.g. "debian".
	Distro string
	// Name, Version and Arch identify the package.
	Name, Version, Arch string
	// File is the package's file name; URL where it was downloaded from
	// (an archive URL, or oci://repository@digest for a group member's).
	File, URL string
	// SHA256 is the file's digest.
	SHA256 string
}

// digestSet splits "alg:hex" (or bare 64-hex sha256) into an in-toto
// DigestSet entry.
func digestSet(d string) (map[string]string, error) {
	alg, value, ok := strings.Cut(d, ":")
	if !ok {
		alg, value = "sha256", d
	}
	if err := checkHex(alg, value); err != nil {
		return nil, err
	}
	return map[string]string{alg: strings.ToLower(value)}, nil
}

// sha256Hex returns the hex part of a sha256 digest, checking it.
func sha256Hex(d string) (string, error) {
	set, err := digestSet(d)
	if err != nil {
		return "", err
	}
	v, ok := set["sha256"]
	if !ok {
		return "", fmt.Errorf("digest %q is not sha256", d)
	}
	return v, nil
}

var hexLen = map[string]int{"sha256": 64, "sha512": 128, "sha1": 40, "gitCommit": 40, "gitTree": 40}

func checkHex(alg, value string) error {
	if _, err := hex.DecodeString(value); err != nil || value == "" {
		return fmt.Errorf("digest %s:%q is not hexadecimal", alg, value)
	}
	if n, ok := hexLen[alg]; ok && len(value) != n && !(strings.HasPrefix(alg, "git") && len(value) == 64) {
		return fmt.Errorf("digest %s:%s has %d hex digits, want %d", alg, value, len(value), n)
	}
	return nil
}
