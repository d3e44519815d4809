package oci

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/types"
)

var acceptOCI = map[string]string{"Accept": string(types.OCIManifestSchema1)}

// blobPath is where distribution stores a blob's bytes.
func blobPath(dir, dgst string) string {
	alg, hex, _ := strings.Cut(dgst, ":")
	return filepath.Join(dir, storageRoot, "blobs", alg, hex[:2], hex, "data")
}

// TestDeleteNamespace deletes team-a's repositories and referrers: a tenant
// who gets the name next reads none of it, not even a blob team-b still
// links (reads go through the repository's own links), while team-a-b
// (same prefix) and team-b keep everything. Blobs only team-a linked are
// gone from disk; shared ones stay.
func TestDeleteNamespace(t *testing.T) {
	t.Parallel()
	tr := startRegistry(t, t.TempDir())
	ctx := context.Background()
	rem := tr.remote(tokenAdmin)
	push := func(ref, data string) Descriptor {
		d, err := PushArtifact(ctx, tr.ref(ref), []Blob{{MediaType: "text/plain", Data: []byte(data)}}, PushOptions{Remote: rem})
		mustNil(t, err)
		return d
	}
	own := push("team-a/app:v1", "only team-a")
	shared := push("team-a/lib:v1", "shared")
	push("team-b/lib:v1", "shared")
	prefix := push("team-a-b/app:v1", "prefix sharing")
	_, err := PushArtifact(ctx, tr.ref("team-a/app"), []Blob{{MediaType: typeSBOM, Data: []byte("{}")}},
		PushOptions{Remote: rem, ArtifactType: typeSBOM, Subject: &own})
	mustNil(t, err)
	ownLayer := fetchManifest(t, tr, "team-a/app", own.Digest, tokenA).Layers[0].Digest.String()
	sharedLayer := fetchManifest(t, tr, "team-a/lib", shared.Digest, tokenA).Layers[0].Digest.String()
	for _, p := range []string{"/v2/team-a/app/blobs/" + ownLayer, "/v2/team-a/lib/blobs/" + sharedLayer} {
		if resp := tr.do(t, http.MethodGet, p, tokenA, nil, nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("before deletion GET %s = %d", p, resp.StatusCode)
		}
	}

	mustNil(t, tr.reg.DeleteNamespace("team-a"))
	mustNil(t, tr.reg.DeleteNamespace("team-a")) // idempotent

	for _, p := range []string{"/v2/team-a/app/tags/list", "/v2/team-a/app/manifests/v1", "/v2/team-a/app/manifests/" + own.Digest,
		"/v2/team-a/app/blobs/" + ownLayer, "/v2/team-a/lib/blobs/" + sharedLayer, "/v2/team-a/lib/manifests/" + shared.Digest} {
		if resp := tr.do(t, http.MethodGet, p, tokenA, nil, acceptOCI); resp.StatusCode != http.StatusNotFound {
			t.Errorf("after deletion GET %s = %d, want 404: %s", p, resp.StatusCode, readBody(t, resp))
		}
	}
	resp := tr.do(t, http.MethodGet, "/v2/team-a/app/referrers/"+own.Digest, tokenA, nil, nil)
	if body := readBody(t, resp); !strings.Contains(body, `"manifests":[]`) {
		t.Errorf("referrers survive the namespace: %s", body)
	}
	if _, err := os.Stat(blobPath(tr.dir, ownLayer)); !os.IsNotExist(err) {
		t.Errorf("blob only team-a linked is still on disk: %v", err)
	}
	for _, p := range []string{"/v2/team-b/lib/blobs/" + sharedLayer, "/v2/team-a-b/app/manifests/v1"} {
		if resp := tr.do(t, http.MethodGet, p, tokenAdmin, nil, acceptOCI); resp.StatusCode != http.StatusOK {
			t.Errorf("another namespace was damaged: GET %s = %d", p, resp.StatusCode)
		}
	}
	if got, err := Resolve(ctx, tr.ref("team-a-b/app:v1"), rem); err != nil || got.Digest != prefix.Digest {
		t.Errorf("team-a-b/app:v1 = %v, %v", got.Digest, err)
	}
	// The name is usable again, and starts empty.
	push("team-a/app:v2", "new tenant")
	tags, err := Tags(ctx, tr.ref("team-a/app"), tr.remote(tokenA))
	if err != nil || strings.Join(tags, ",") != "v2" {
		t.Fatalf("tags of the re-created repository = %v, %v", tags, err)
	}
}

func TestDeleteNamespaceRefusesNonNames(t *testing.T) {
	t.Parallel()
	tr := startRegistry(t, t.TempDir())
	for _, ns := range []string{"", "..", "team-a/app", "../x", "UPPER"} {
		if err := tr.reg.DeleteNamespace(ns); err == nil {
			t.Errorf("DeleteNamespace(%q) succeeded", ns)
		}
	}
}
