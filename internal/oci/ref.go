package oci

import "strings"

// SplitDigest splits a reference pinned by digest, repository@sha256:…,
// into the repository and the digest; ok is false for any other
// reference (a tag, or no sha256 digest).
func SplitDigest(ref string) (repo, digest string, ok bool) {
	repo, digest, ok = strings.Cut(ref, "@")
	return repo, digest, ok && strings.HasPrefix(digest, "sha256:")
}
