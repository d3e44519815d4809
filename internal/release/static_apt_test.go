package release

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/aptrepo"
	"github.com/kilnbuild/kiln/internal/oci"
)

func buildDeb(t *testing.T, name, version string) string {
	t.Helper()
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Skip("dpkg-deb not installed")
	}
	root := filepath.Join(t.TempDir(), name)
	for file, content := range map[string]string{
		"usr/share/" + name + "/hello.txt": "hello " + version + "\n",
		"DEBIAN/control": fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: all\nMaintainer: Kiln Test <test@kiln.dev>\n"+
			"Description: %s for a release test\n", name, version, name),
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, file)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, file), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), name+"_"+version+"_all.deb")
	if b, err := exec.Command("dpkg-deb", "--root-owner-group", "--build", root, out).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb: %v\n%s", err, b)
	}
	return out
}

// pushDebArtifact pushes debs as a Debian build's artifact (a layer per
// file, titled by its name) and returns it pinned by digest.
func pushDebArtifact(t *testing.T, repo string, debs ...string) string {
	t.Helper()
	var blobs []oci.Blob
	for _, d := range debs {
		data, err := os.ReadFile(d)
		if err != nil {
			t.Fatal(err)
		}
		blobs = append(blobs, oci.Blob{MediaType: "application/vnd.debian.binary-package", Data: data,
			Annotations: map[string]string{aptrepo.AnnotationTitle: filepath.Base(d)}})
	}
	desc, err := oci.PushArtifact(t.Context(), repo+":latest", blobs, oci.PushOptions{Remote: oci.Remote{PlainHTTP: true}})
	if err != nil {
		t.Fatal(err)
	}
	return repo + "@" + desc.Digest
}

func TestPublishStaticMakesAnAptRepository(t *testing.T) {
	srv := httptest.NewServer(ggcrregistry.New())
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	static := t.TempDir()
	keys := aptrepo.Keys{Dir: t.TempDir()}
	prod := aptrepo.Namespace{Name: "prod", UID: "uid-prod"}
	p := &Publisher{Source: func(string) oci.Remote { return oci.Remote{PlainHTTP: true} }, StaticDir: static,
		AptSigner: func(_ context.Context, ns string) (*aptrepo.Signer, error) {
			if ns != prod.Name {
				t.Fatalf("signing for namespace %s", ns)
			}
			return keys.Signer(prod)
		}}
	snap := func(refs map[string]string) *v1alpha1.Snapshot {
		s := &v1alpha1.Snapshot{Spec: v1alpha1.SnapshotSpec{Application: "greet"}}
		for name, ref := range refs {
			s.Spec.Components = append(s.Spec.Components, v1alpha1.SnapshotComponent{Name: name, ContainerImage: ref})
		}
		return s
	}
	data := map[string]any{"static": map[string]any{"path": "debian"}}
	lib := pushDebArtifact(t, host+"/team/lib", buildDeb(t, "libgreet1", "1.0-1"))
	cli := pushDebArtifact(t, host+"/team/cli", buildDeb(t, "greet", "1.0-1"))
	var log bytes.Buffer
	out, err := p.Run(t.Context(), PipelinePublishStatic, "prod", snap(map[string]string{"lib": lib, "cli": cli}), nil, data, &log)
	if err != nil {
		t.Fatalf("publish-static: %v\n%s", err, log.String())
	}
	apt, _ := out["apt-repository"].(map[string]any)
	if apt["path"] != "prod/debian/apt" || apt["packages"] != 2 {
		t.Fatalf("status: %v", out)
	}
	repo := filepath.Join(static, "prod/debian/apt")
	packages, err := os.ReadFile(filepath.Join(repo, "dists/stable/main/binary-"+aptrepo.HostArch()+"/Packages"))
	if err != nil || !strings.Contains(string(packages), "Package: greet\n") || !strings.Contains(string(packages), "Package: libgreet1\n") {
		t.Fatalf("Packages: %v\n%s", err, packages)
	}
	if _, err := os.Stat(filepath.Join(repo, "pool/main/g/greet/greet_1.0-1_all.deb")); err != nil {
		t.Fatal(err)
	}
	signer, err := keys.Signer(prod)
	if err != nil {
		t.Fatal(err)
	}
	verifyInRelease(t, signer, filepath.Join(repo, "dists/stable/InRelease"))

	// A new release switches the link to a new generation in one step.
	before, _ := os.Readlink(repo)
	cli2 := pushDebArtifact(t, host+"/team/cli", buildDeb(t, "greet", "1.1-1"))
	if _, err := p.Run(t.Context(), PipelinePublishStatic, "prod", snap(map[string]string{"lib": lib, "cli": cli2}), nil, data, &log); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Readlink(repo)
	packages, _ = os.ReadFile(filepath.Join(repo, "dists/stable/main/binary-"+aptrepo.HostArch()+"/Packages"))
	if before == after || !strings.Contains(string(packages), "Version: 1.1-1") || strings.Contains(string(packages), "greet_1.0-1_all.deb") {
		t.Fatalf("the repository did not follow the release (%s -> %s):\n%s", before, after, packages)
	}
	verifyInRelease(t, signer, filepath.Join(repo, "dists/stable/InRelease"))

	// A component named like the repository's directory is a clear error.
	_, err = p.Run(t.Context(), PipelinePublishStatic, "prod", snap(map[string]string{"apt": cli2}), nil, data, &log)
	if err == nil || !strings.Contains(err.Error(), `component "apt"`) || !strings.Contains(err.Error(), "rename the component") {
		t.Fatalf("err = %v, want one naming the clash", err)
	}
}

func verifyInRelease(t *testing.T, s *aptrepo.Signer, file string) {
	t.Helper()
	if _, err := exec.LookPath("gpgv"); err != nil {
		t.Skip("gpgv not installed")
	}
	pub, err := s.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	block, err := armor.Decode(bytes.NewReader(pub))
	if err != nil {
		t.Fatal(err)
	}
	bin, _ := io.ReadAll(block.Body)
	ring := filepath.Join(t.TempDir(), "k.gpg")
	if err := os.WriteFile(ring, bin, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("gpgv", "--keyring", ring, file).CombinedOutput(); err != nil {
		t.Fatalf("gpgv %s: %v\n%s", file, err, out)
	}
}
