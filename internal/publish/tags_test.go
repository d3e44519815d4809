package publish

import (
	"slices"
	"strings"
	"testing"
)

func TestExpandTags(t *testing.T) {
	t.Parallel()
	vars := TagVars{GitSHA: testCommit, BuildCounter: 42, Component: "greet",
		Digest: "sha256:" + strings.Repeat("ab", 32), Version: "1.2.3"}.Map()
	got, err := ExpandTags([]string{"latest", "{{ git_sha }}", "{{git_short_sha}}", "{{ build_counter }}",
		"{{ component }}", "{{ digest_sha }}", "v{{ version }}-{{ build_counter }}", "latest", "{{version}}"}, vars)
	must(t, err)
	want := []string{"latest", testCommit, "0123456", "42", "greet", strings.Repeat("ab", 32), "v1.2.3-42", "1.2.3"}
	if !slices.Equal(got, want) {
		t.Fatalf("ExpandTags = %q, want %q", got, want)
	}
}

func TestExpandTagsErrors(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"component": "greet", "version": "1.2.3", "weird": "a/b", "empty": ""}
	long := strings.Repeat("x", 129)
	for _, tc := range []struct{ tmpl, want string }{
		{"{{ branch }}", `unknown variable "branch"; known variables: component, empty, version, weird`},
		{"v{{ empty }}", `variable "empty" is empty`},
		{"{{ version", "malformed placeholder"},
		{"{{ weird }}", `"a/b" is not a valid OCI tag`},
		{"-{{ version }}", `"-1.2.3" is not a valid OCI tag`},
		{".hidden", "not a valid OCI tag"},
		{"", `"" is not a valid OCI tag`},
		{long, "not a valid OCI tag"},
	} {
		_, err := ExpandTags([]string{"latest", tc.tmpl}, vars)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ExpandTags(%q) = %v, want an error containing %q", tc.tmpl, err, tc.want)
		}
	}
	if _, err := ExpandTags([]string{strings.Repeat("x", 128)}, nil); err != nil {
		t.Fatalf("a 128-character tag is valid: %v", err)
	}
}

func TestTagVarsOmitEmpty(t *testing.T) {
	t.Parallel()
	m := TagVars{Component: "greet"}.Map()
	if len(m) != 1 || m[VarComponent] != "greet" {
		t.Fatalf("Map() = %v, want only the component", m)
	}
}
