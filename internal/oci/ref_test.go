package oci

import "testing"

func TestSplitDigest(t *testing.T) {
	t.Parallel()
	for ref, want := range map[string][3]string{
		"kiln.example/team/lib@sha256:ab": {"kiln.example/team/lib", "sha256:ab", "ok"},
		"kiln.example/team/lib:v1":        {"kiln.example/team/lib:v1", "", ""},
		"kiln.example/team/lib@md5:ab":    {"kiln.example/team/lib", "md5:ab", ""},
		"":                                {"", "", ""},
	} {
		repo, digest, ok := SplitDigest(ref)
		if repo != want[0] || digest != want[1] || ok != (want[2] == "ok") {
			t.Errorf("SplitDigest(%q) = %q, %q, %v; want %q", ref, repo, digest, ok, want)
		}
	}
}
