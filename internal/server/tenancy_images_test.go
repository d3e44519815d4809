package server

import (
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"

	"github.com/kilnbuild/kiln/internal/oci"
)

// imageComponent is a component of application greet in ns whose one step
// runs in image.
func imageComponent(name, url, image string) map[string]any {
	comp := component(name, "greet")
	comp["spec"].(map[string]any)["source"].(map[string]any)["git"].(map[string]any)["url"] = url
	comp["spec"].(map[string]any)["build"] = map[string]any{"pollInterval": "0s", "pipelineSpec": imagePipeline(image)}
	return comp
}

// stepImageAttack runs, in namespace "other", a build in other's private
// image (so its rootfs is unpacked on this server), then in "default"
// builds whose step names that image by digest: through other's repository,
// and through a repository of default's own that does not hold it. Both
// must fail saying why, and nothing of the image may reach the build's
// status or provenance.
func stepImageAttack(t *testing.T, a api, registry string, push func(ref string) string) {
	t.Helper()
	url, _ := gitRepo(t, map[string]string{"VERSION": "7\n"})
	a.must(201, "POST", "/api/v1/namespaces", map[string]any{"metadata": map[string]any{"name": "other"}})
	a.must(201, "POST", nsPath("other", "applications"), app("greet"))
	digest := push(registry + "/other/tools:1")
	a.must(201, "POST", nsPath("other", "components"), imageComponent("owner", url, registry+"/other/tools:1"))
	if b := waitBuildIn(t, a, "other", "owner", 1); str(b, "status", "phase") != "Succeeded" {
		t.Fatalf("the owner's build in its own image: %v", b["status"])
	}
	attacks := map[string]struct{ image, want string }{
		"foreign": {registry + "/other/tools@" + digest, `belongs to namespace "other"`},
		"own":     {registry + "/default/tools@" + digest, "namespace default cannot pull it"},
	}
	for name, at := range attacks {
		a.must(201, "POST", nsPath("default", "components"), imageComponent(name, url, at.image))
	}
	for name, at := range attacks {
		b := waitBuild(t, a, name, 1)
		bn := str(b, "metadata", "name")
		logs := string(a.do("GET", nsPath("default", "builds")+"/"+bn+"/log", nil).Body)
		if str(b, "status", "phase") != "Failed" || !strings.Contains(logs+str(b, "status", "message"), at.want) {
			t.Errorf("%s: a step ran in another tenant's image %s: %v\n%s", name, at.image, b["status"], logs)
		}
		for _, s := range b["status"].(map[string]any)["steps"].([]any) {
			if d := str(s.(map[string]any), "imageDigest"); d != "" {
				t.Errorf("%s: status records image digest %s", name, d)
			}
		}
		if r := a.do("GET", nsPath("default", "builds")+"/"+bn+"/provenance", nil); r.Code != 404 {
			t.Errorf("%s: provenance served (%d): %s", name, r.Code, r.Body)
		}
	}
}

// TestStepImagesAcrossTenantsEmbedded: the embedded registry.
func TestStepImagesAcrossTenantsEmbedded(t *testing.T) {
	t.Parallel()
	requireSandbox(t)
	rootfs := busyboxRootfs(t)
	f, a := buildFactory(t, Config{})
	rem := oci.Remote{Token: f.AdminToken, RootCAs: f.caPool()}
	stepImageAttack(t, a, strings.TrimPrefix(f.URL, "https://"), func(ref string) string {
		d, err := oci.PushImage(t.Context(), ref, oci.ImageSpec{Layers: []string{rootfs}}, oci.PushOptions{Remote: rem})
		if err != nil {
			t.Fatalf("pushing %s: %v", ref, err)
		}
		return d.Digest
	})
}

// TestStepImagesAcrossTenantsPushRegistry: an external push registry,
// which Kiln reads with its own credentials for every namespace.
func TestStepImagesAcrossTenantsPushRegistry(t *testing.T) {
	t.Parallel()
	requireSandbox(t)
	rootfs := busyboxRootfs(t)
	ext := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(ext.Close)
	registry := strings.TrimPrefix(ext.URL, "http://") + "/prod"
	_, a := buildFactory(t, Config{PushRegistry: PushRegistry{Registry: registry, PlainHTTP: true}})
	stepImageAttack(t, a, registry, func(ref string) string {
		d, err := oci.PushImage(t.Context(), ref, oci.ImageSpec{Layers: []string{rootfs}}, oci.PushOptions{Remote: oci.Remote{PlainHTTP: true}})
		if err != nil {
			t.Fatalf("pushing %s: %v", ref, err)
		}
		return d.Digest
	})
}
