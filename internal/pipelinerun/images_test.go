package pipelinerun

import (
	"strings"
	"testing"
)

// Images in Kiln's registries (embedded, or the push registry read with
// Kiln's credentials) must belong to the namespace; other registries are
// read anonymously and left to their own authorisation.
func TestCheckImage(t *testing.T) {
	t.Parallel()
	e := &Runner{Registry: "ext.example:5000/prod", Embedded: "kiln.example:7070"}
	for image, want := range map[string]string{
		"kiln.example:7070/a/tools:1":                   "",
		"kiln.example:7070/a/tools@sha256:" + hex64:     "",
		"ext.example:5000/prod/a/tools:1":               "",
		"host":                                          "",
		"docker.io/library/busybox:1":                   "",
		"ext.example:5000/prodx/b/tools:1":              "", // not under the push prefix: no Kiln credentials
		"kiln.example:7070/a-b/tools:1":                 `belongs to namespace "a-b"`,
		"kiln.example:7070/b/tools@sha256:" + hex64:     `belongs to namespace "b"`,
		"ext.example:5000/prod/b/tools@sha256:" + hex64: `belongs to namespace "b"`,
	} {
		err := e.CheckImage("a", image)
		if (want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), want)) {
			t.Errorf("CheckImage(a, %s) = %v, want %q", image, err, want)
		}
	}
}

var hex64 = strings.Repeat("ab", 32)
