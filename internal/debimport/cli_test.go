package debimport_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kilnbuild/kiln/internal/cli"
	"github.com/kilnbuild/kiln/internal/debimport"
	"github.com/kilnbuild/kiln/internal/server"
)

// TestImportRealPackageIntoRealAPI imports Debian's hello from the real
// archive (deb.debian.org, verified with the system's archive keyring) with
// the real CLI into a real in-process Kiln server.
func TestImportRealPackageIntoRealAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the Debian archive over the network")
	}
	if _, err := os.Stat(debimport.DefaultKeyring); err != nil {
		t.Skipf("no Debian archive keyring (apt-get install debian-archive-keyring): %v", err)
	}
	if _, err := exec.LookPath("dpkg-source"); err != nil {
		t.Skip("dpkg-source is not installed (apt-get install dpkg-dev)")
	}
	data := t.TempDir()
	f, err := server.Start(context.Background(), server.Config{DataDir: data, Listen: "127.0.0.1:0", AllowFileSources: true,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Stop() })
	kiln := func(args ...string) (string, error) {
		root := cli.NewRootCommand()
		root.SetArgs(append([]string{"--config", filepath.Join(data, server.ClientConfigName)}, args...))
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&out)
		err := root.Execute()
		return out.String(), err
	}
	dir := t.TempDir()
	out, err := kiln("import", "debian", "hello", "-n", "distro", "--app", "slice", "--dir", dir)
	if err == nil || !strings.Contains(err.Error(), `namespace "distro" does not exist`) || !strings.Contains(err.Error(), "nothing was imported") {
		t.Errorf("import into a missing namespace: %v\n%s", err, out)
	}
	if entries, _ := os.ReadDir(dir); len(entries) > 0 {
		t.Errorf("the import into a missing namespace created %v", entries)
	}
	if out, err := kiln("create", "namespace", "distro"); err != nil {
		t.Fatalf("create namespace: %v\n%s", err, out)
	}
	out, err = kiln("import", "debian", "hello", "-n", "distro", "--app", "slice", "--dir", dir, "--nocheck")
	if err != nil {
		t.Fatalf("import: %v\n%s", err, out)
	}
	for _, want := range []string{"application.kiln.dev/slice created", "component.kiln.dev/hello created", "hello 2.10-3 imported into " + filepath.Join(dir, "hello.git")} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	checkRepo(t, filepath.Join(dir, "hello.git"))
	checkComponent(t, kiln, filepath.Join(dir, "hello.git"))
	waitCapabilities(t, kiln, filepath.Join(dir, "hello.git"))

	out, err = kiln("import", "debian", "hello", "-n", "distro", "--app", "slice", "--dir", dir, "--nocheck")
	if err != nil || !strings.Contains(out, "hello 2.10-3: already at the archive's version, no new commit") {
		t.Errorf("re-import: %v\n%s", err, out)
	}
	if n := gitLines(t, filepath.Join(dir, "hello.git"), "rev-list", "main"); n != 1 {
		t.Errorf("%d commits after the re-import, want 1", n)
	}
}

// checkRepo checks the imported tree: the unpacked source with the Debian
// packaging, patches applied, committed with its tag.
func checkRepo(t *testing.T, repo string) {
	t.Helper()
	for _, f := range []string{"debian/control", "debian/changelog", "configure", "src/hello.c"} {
		if err := exec.Command("git", "-C", repo, "cat-file", "-e", "main:"+f).Run(); err != nil {
			t.Errorf("the import lacks %s: %v", f, err)
		}
	}
	if n := gitLines(t, repo, "ls-tree", "-r", "--name-only", "main"); n < 100 {
		t.Errorf("only %d files committed", n)
	}
	if out, _ := exec.Command("git", "-C", repo, "tag", "--list").Output(); strings.TrimSpace(string(out)) != "debian/2.10-3" {
		t.Errorf("tags = %q", out)
	}
}

func checkComponent(t *testing.T, kiln func(...string) (string, error), repo string) {
	t.Helper()
	out, err := kiln("get", "component", "hello", "-n", "distro", "-o", "json")
	if err != nil {
		t.Fatalf("get: %v\n%s", err, out)
	}
	var c struct {
		Metadata struct {
			Annotations map[string]string `json:"annotations"`
		} `json:"metadata"`
		Spec struct {
			Application string `json:"application"`
			Source      struct {
				Git struct{ URL, Revision string } `json:"git"`
			} `json:"source"`
			Build struct {
				PipelineRef string `json:"pipelineRef"`
				Params      []struct{ Name, Value string }
			} `json:"build"`
		} `json:"spec"`
	}
	if err := json.Unmarshal([]byte(out), &c); err != nil {
		t.Fatal(err)
	}
	if c.Spec.Application != "slice" || c.Spec.Build.PipelineRef != "debian" || c.Spec.Source.Git.URL != "file://"+repo ||
		len(c.Spec.Build.Params) != 1 || c.Spec.Build.Params[0].Value != "true" || c.Metadata.Annotations[debimport.AnnotationVersion] != "2.10-3" {
		t.Errorf("component:\n%s", out)
	}
}

// waitCapabilities waits until the server has read the imported commit's
// debian/control: the component provides deb(hello) and requires its
// Build-Depends.
func waitCapabilities(t *testing.T, kiln func(...string) (string, error), repo string) {
	t.Helper()
	head, err := exec.Command("git", "-C", repo, "rev-parse", "main").Output()
	if err != nil {
		t.Fatal(err)
	}
	var comp struct {
		Status struct {
			Capabilities struct {
				Commit   string   `json:"commit"`
				Provides []string `json:"provides"`
				Requires []string `json:"requires"`
				Detected []string `json:"detected"`
			} `json:"capabilities"`
		} `json:"status"`
	}
	caps := &comp.Status.Capabilities
	var out string
	for deadline := time.Now().Add(2 * time.Minute); caps.Commit == "" && time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
		if out, err = kiln("get", "component", "hello", "-n", "distro", "-o", "json"); err != nil {
			t.Fatalf("get: %v\n%s", err, out)
		}
		if err := json.Unmarshal([]byte(out), &comp); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	}
	if caps.Commit != strings.TrimSpace(string(head)) || !slices.Contains(caps.Provides, "deb(hello)") ||
		!slices.Contains(caps.Requires, "deb(debhelper-compat)") || !slices.Contains(caps.Detected, "debian") {
		t.Errorf("the server's capabilities of the imported commit %s: %+v\n%s", head, caps, out)
	}
}

func gitLines(t *testing.T, repo string, args ...string) int {
	t.Helper()
	out, err := exec.Command("git", append([]string{"-C", repo}, args...)...).Output()
	if err != nil {
		t.Fatal(err)
	}
	return len(strings.Split(strings.TrimSpace(string(out)), "\n"))
}
