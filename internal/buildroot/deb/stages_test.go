package deb

import (
	"reflect"
	"strings"
	"testing"
)

func entry(name string, fields ...string) *Entry {
	v := map[string]string{"Package": name, "Version": "1", "Architecture": "amd64"}
	for i := 0; i+1 < len(fields); i += 2 {
		v[fields[i]] = fields[i+1]
	}
	return entryOf(v)
}

// TestInstallStagesFollowPreDepends is the chain that made one dpkg run
// fail in a real buildroot: python3 pre-depends on python3-minimal, which
// pre-depends on python3.11-minimal; python3-docutils depends on python3.
func TestInstallStagesFollowPreDepends(t *testing.T) {
	t.Parallel()
	entries := []*Entry{
		entry("python3-docutils", "Depends", "python3:any, docutils-common"),
		entry("python3", "Pre-Depends", "python3-minimal (= 1)", "Depends", "python3.11 (>= 3.11)"),
		entry("python3-minimal", "Pre-Depends", "python3.11-minimal (>= 3.11)"),
		entry("python3.11-minimal", "Depends", "libpython3.11-minimal (= 1), libexpat1"),
		entry("libpython3.11-minimal", "Depends", "libc6"),
		entry("python3.11", "Depends", "python3.11-minimal"),
		entry("docutils-common", "Depends", "sgml-base | xml-core"),
		entry("xml-core"),
		entry("libfoo", "Provides", "libfoo-abi-1"),
		entry("bar", "Pre-Depends", "libfoo-abi-1"),
	}
	got := map[string]int{}
	for i, s := range installStages(entries) {
		got[entries[i].Name] = s
	}
	want := map[string]int{"python3.11-minimal": 0, "libpython3.11-minimal": 0, "python3-minimal": 1, "python3.11": 0,
		"python3": 2, "python3-docutils": 2, "docutils-common": 0, "xml-core": 0, "libfoo": 0, "bar": 1}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("stages %v, want %v", got, want)
	}
	stages := Format().Install([][]string{{"/p/a_1_amd64.deb", "/p/b_1%3a2_amd64.deb"}, {"/p/it's.deb"}})
	script := stages[len(stages)-1]
	if lines := strings.Split(script, "\n"); len(lines) != 2 || !strings.HasPrefix(lines[0], "fakeroot dpkg --force-unsafe-io --install '/p/a_1_amd64.deb' '/p/b_1%3a2_amd64.deb'") ||
		lines[1] != `fakeroot dpkg --force-unsafe-io --install '/p/it'\''s.deb'` {
		t.Errorf("install script:\n%s", script)
	}
}

// TestInstallStagesPreDependsCycle: a Pre-Depends cycle (not in the
// archive) installs everything in one run rather than never.
func TestInstallStagesPreDependsCycle(t *testing.T) {
	t.Parallel()
	entries := []*Entry{entry("a", "Pre-Depends", "b"), entry("b", "Pre-Depends", "a"), entry("c", "Depends", "a")}
	if got := installStages(entries); !reflect.DeepEqual(got, []int{0, 0, 0}) {
		t.Fatalf("stages %v, want one run", got)
	}
}
