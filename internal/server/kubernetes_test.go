package server

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kilnbuild/kiln/internal/attest"
	"github.com/kilnbuild/kiln/internal/k8stest"
	"github.com/kilnbuild/kiln/internal/kubeexec"
	"github.com/kilnbuild/kiln/internal/oci"
)

// TestBuildOnKubernetes builds a real component with the Kubernetes
// executor on a real single-node cluster: the catalog script pipeline in
// a step image of Kiln's registry, pulled by the node with the Pod's
// scoped token; the artifact is in the registry, its provenance verifies
// with the server's key, the steps' output is in the build log.
func TestBuildOnKubernetes(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Minute)
	defer cancel()
	bins, err := k8stest.Binaries(ctx)
	if errors.Is(err, k8stest.ErrUnavailable) && !k8stest.Required() {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	c, err := k8stest.Start(ctx, bins)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("stopping the cluster: %v", err)
		}
	})
	if err := c.Namespace(ctx, "kiln-builds"); err != nil {
		t.Fatal(err)
	}
	url, _ := gitRepo(t, map[string]string{"VERSION": "1.0\n"})
	f, a := buildFactory(t, Config{Kubernetes: &Kubernetes{Kubeconfig: c.Kubeconfig, Namespace: "kiln-builds", NodeName: k8stest.NodeName}})
	host := strings.TrimPrefix(f.URL, "https://")
	ca := filepath.Join(t.TempDir(), "kiln-ca.pem")
	if err := os.WriteFile(ca, f.CAPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := c.TrustRegistry(host, ca); err != nil {
		t.Fatal(err)
	}
	image, err := kubeexec.PushHelper(ctx, host+"/default/tools", oci.Remote{Token: f.AdminToken, RootCAs: f.caPool()})
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	a.must(201, "POST", nsPath("default", "components"), scriptComponent("hello", url, map[string]any{"params": []any{
		map[string]any{"name": "image", "value": image},
		map[string]any{"name": "script", "value": `echo "building in a pod as $(id -u)"; mkdir -p out; echo "hello from $(cat VERSION)" > out/greeting.txt`},
		map[string]any{"name": "outputs", "value": `["out/greeting.txt"]`}}}))
	b := waitBuild(t, a, "hello", 1)
	t.Logf("build through the kubernetes executor: %v", time.Since(began).Round(10*time.Millisecond))
	name := str(b, "metadata", "name")
	log := string(a.do("GET", nsPath("default", "builds")+"/"+name+"/log", nil).Body)
	if str(b, "status", "phase") != "Succeeded" {
		c.Logs(os.Stderr)
		t.Fatalf("build: %s\nlog:\n%s", str(b, "status", "message"), log)
	}
	if !strings.Contains(log, "[script/build] building in a pod as 1000") {
		t.Errorf("the step's output is not in the build log:\n%s", log)
	}
	ref := host + "/default/hello@" + str(b, "status", "artifact", "digest")
	if got := pullFile(t, f, ref, "out/greeting.txt"); got != "hello from 1.0\n" {
		t.Errorf("artifact greeting.txt = %q", got)
	}
	rep, err := attest.Verify(ctx, ref, f.signer.PublicKey(), oci.Remote{Token: f.AdminToken, RootCAs: f.caPool()},
		attest.VerifyOptions{BuilderID: DefaultBuilderID})
	if err != nil {
		t.Fatalf("provenance: %v\n%v", err, rep)
	}
}
