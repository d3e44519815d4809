package publish

import (
	"compress/gzip"
	"context"
	"encoding/xml"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const helloSpec = `Name: kiln-hello
Version: 1.0
Release: 1
Summary: Kiln publish test package
License: MIT
BuildArch: noarch
%description
A package for internal/publish tests.
%install
mkdir -p %{buildroot}/usr/share/kiln-hello
echo hello > %{buildroot}/usr/share/kiln-hello/hello.txt
%files
/usr/share/kiln-hello/hello.txt
`

// buildRPM builds a real noarch RPM with rpmbuild and returns its bytes.
func buildRPM(t *testing.T) []byte {
	t.Helper()
	if _, err := exec.LookPath("rpmbuild"); err != nil {
		t.Skip("rpmbuild not on PATH (Debian package rpm); cannot build a test RPM")
	}
	top := t.TempDir()
	spec := filepath.Join(top, "hello.spec")
	must(t, os.WriteFile(spec, []byte(helloSpec), 0o644))
	cmd := exec.Command("rpmbuild", "-bb", "--define", "_topdir "+top, spec)
	cmd.Env = append(os.Environ(), "HOME="+top)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("rpmbuild: %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(top, "RPMS", "noarch", "kiln-hello-1.0-1.noarch.rpm"))
	must(t, err)
	return b
}

func TestPublishRPMRepository(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath(defaultCreaterepo); err != nil {
		t.Skip("createrepo_c not on PATH (Debian package createrepo-c, see scripts/test-deps.sh)")
	}
	rpm := buildRPM(t)
	src := startSource(t)
	ref := pushFiles(t, src, "team/hello:1", map[string]string{"kiln-hello-1.0-1.noarch.rpm": string(rpm)})
	root := t.TempDir()
	res, err := PublishFiles(context.Background(), StaticRequest{Artifact: ref, Remote: src.rem, Dir: root,
		Subdir: "el9/x86_64", RequireRepodata: true})
	must(t, err)
	if !res.Repodata || len(res.Notes) != 0 {
		t.Fatalf("result: %+v", res)
	}
	repo := filepath.Join(root, "el9", "x86_64")
	primary := readPrimary(t, repo)
	for _, want := range []string{"<name>kiln-hello</name>", `ver="1.0"`, `href="kiln-hello-1.0-1.noarch.rpm"`} {
		if !strings.Contains(primary, want) {
			t.Fatalf("primary metadata lacks %s:\n%s", want, primary)
		}
	}
}

// readPrimary finds the primary metadata in repodata/repomd.xml and
// returns it uncompressed.
func readPrimary(t *testing.T, repo string) string {
	t.Helper()
	var md struct {
		Data []struct {
			Type     string `xml:"type,attr"`
			Location struct {
				Href string `xml:"href,attr"`
			} `xml:"location"`
		} `xml:"data"`
	}
	must(t, xml.Unmarshal([]byte(readFile(t, filepath.Join(repo, "repodata", "repomd.xml"))), &md))
	for _, d := range md.Data {
		if d.Type != "primary" {
			continue
		}
		f, err := os.Open(filepath.Join(repo, filepath.FromSlash(d.Location.Href)))
		must(t, err)
		defer f.Close()
		if !strings.HasSuffix(d.Location.Href, ".gz") {
			t.Fatalf("primary metadata %s: only gzip is handled here", d.Location.Href)
		}
		zr, err := gzip.NewReader(f)
		must(t, err)
		b, err := io.ReadAll(zr)
		must(t, err)
		return string(b)
	}
	t.Fatal("repomd.xml lists no primary metadata")
	return ""
}

// Without createrepo_c, RPMs are still published; repodata is an error
// only when required.
func TestPublishRPMWithoutCreaterepo(t *testing.T) {
	t.Parallel()
	src := startSource(t)
	ref := pushFiles(t, src, "team/fake:1", map[string]string{"fake-1.0-1.noarch.rpm": "not really an rpm"})
	req := StaticRequest{Artifact: ref, Remote: src.rem, Dir: t.TempDir(), Createrepo: "createrepo_c-absent-for-test"}
	res, err := PublishFiles(context.Background(), req)
	must(t, err)
	if res.Repodata || len(res.Notes) != 1 || !strings.Contains(res.Notes[0], "createrepo_c-absent-for-test is not on PATH") {
		t.Fatalf("result: %+v", res)
	}
	if _, err := os.Stat(filepath.Join(req.Dir, "fake-1.0-1.noarch.rpm")); err != nil {
		t.Fatal(err)
	}
	req.RequireRepodata = true
	if _, err := PublishFiles(context.Background(), req); err == nil || !strings.Contains(err.Error(), "install createrepo-c") {
		t.Fatalf("required repodata without createrepo_c: %v", err)
	}
}
