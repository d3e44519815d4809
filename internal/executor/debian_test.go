package executor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/pipeline"
)

const helloChangelog = "hello (2.10-3) unstable; urgency=medium\n\n  * Upload.\n\n -- A <a@example.org>  Mon, 26 Dec 2022 18:20:00 +0000\n"

func TestBinNMUParamOnlyForDependencyRebuilds(t *testing.T) {
	src := t.TempDir()
	if err := os.MkdirAll(filepath.Join(src, "debian"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "debian", "changelog"), []byte(helloChangelog), 0o644); err != nil {
		t.Fatal(err)
	}
	p, _ := pipeline.Builtin().Pipeline("debian")
	script, _ := pipeline.Builtin().Pipeline("script")
	epoch := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	job := func(reason string, n int64) Job {
		b := &v1alpha1.Build{Spec: v1alpha1.BuildSpec{Reason: v1alpha1.BuildReason{Type: reason, Component: "libgreet", Build: "libgreet-4"}}}
		b.Status.BuildNumber = n
		c := &v1alpha1.Component{}
		c.Status.LastBuiltCommit = "c1"
		return Job{Build: b, Component: c}
	}
	got, err := binNMUParam(job(v1alpha1.ReasonDependencyChange, 7), p, src, "c1", map[string]any{}, epoch)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"hello (2.10-3+b7) unstable; urgency=low, binary-only=yes\n", "Rebuild against libgreet (build libgreet-4).",
		" -- Kiln <kiln@kiln.invalid>  Sun, 06 Dec 2026 10:00:00 +0000"} {
		if !strings.Contains(got, want) {
			t.Errorf("binNMU entry lacks %q:\n%s", want, got)
		}
	}
	for name, c := range map[string]struct {
		j      Job
		p      *pipeline.Pipeline
		commit string
		params map[string]any
	}{
		"source change":          {job(v1alpha1.ReasonSourceChange, 7), p, "c1", map[string]any{}},
		"manual":                 {job(v1alpha1.ReasonManual, 7), p, "c1", map[string]any{}},
		"set by the component":   {job(v1alpha1.ReasonDependencyChange, 7), p, "c1", map[string]any{"binnmu": ""}},
		"no binnmu param":        {job(v1alpha1.ReasonDependencyChange, 7), script, "c1", map[string]any{}},
		"a commit not built yet": {job(v1alpha1.ReasonDependencyChange, 7), p, "c2", map[string]any{}},
	} {
		if got, err := binNMUParam(c.j, c.p, src, c.commit, c.params, epoch); err != nil || got != "" {
			t.Errorf("%s: binnmu %q (%v), want none", name, got, err)
		}
	}
	if _, err := binNMUParam(job(v1alpha1.ReasonDependencyChange, 1), p, t.TempDir(), "c1", map[string]any{}, epoch); err == nil {
		t.Error("a dependency rebuild without debian/changelog got a binNMU")
	}
}

func TestPackagesDigestIgnoresBuildRecords(t *testing.T) {
	write := func(files map[string]string) string {
		dir := t.TempDir()
		for name, content := range files {
			if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	a := write(map[string]string{"hello_1_amd64.deb": "deb", "hello_1_amd64.buildinfo": "Build-Date: Sun", "hello_1_amd64.changes": "x"})
	b := write(map[string]string{"hello_1_amd64.deb": "deb", "hello_1_amd64.buildinfo": "Build-Date: Mon", "sub/x.deb": "other"})
	c := write(map[string]string{"hello_1_amd64.deb": "deb2", "hello_1_amd64.buildinfo": "Build-Date: Sun"})
	da, _ := PackagesDigest(a)
	db, _ := PackagesDigest(b)
	dc, _ := PackagesDigest(c)
	if da == "" || da != db {
		t.Fatalf("same .debs, different build records: %s vs %s", da, db)
	}
	if da == dc {
		t.Fatal("different .debs digest the same")
	}
	if full, _ := ContentDigest(a); full == da {
		t.Fatal("ContentDigest ignored the .buildinfo")
	}
}
