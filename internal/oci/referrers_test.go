package oci

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

const (
	typeSBOM       = "application/spdx+json"
	typeProvenance = "application/vnd.in-toto+json"
)

// pushWithReferrers pushes a subject artifact and an SBOM and a provenance
// referring to it.
func pushWithReferrers(t *testing.T, tr *testRegistry) (subject, sbom, prov Descriptor) {
	t.Helper()
	ctx := context.Background()
	subject, err := PushArtifact(ctx, tr.ref("team-a/app:v1"), []Blob{{MediaType: "text/plain", Data: []byte("app")}},
		PushOptions{Remote: tr.remote(tokenA)})
	mustNil(t, err)
	attach := func(typ, data string) Descriptor {
		d, err := PushArtifact(ctx, tr.ref("team-a/app"), []Blob{{MediaType: typ, Data: []byte(data)}},
			PushOptions{Remote: tr.remote(tokenA), ArtifactType: typ, Subject: &subject,
				Annotations: map[string]string{"kind": typ}})
		mustNil(t, err)
		return d
	}
	// Pushed to the bare repository: by digest, reachable only as referrers.
	return subject, attach(typeSBOM, `{"spdx":1}`), attach(typeProvenance, `{"prov":1}`)
}

func TestReferrersAPI(t *testing.T) {
	t.Parallel()
	tr := startRegistry(t, t.TempDir())
	subject, sbom, prov := pushWithReferrers(t, tr)

	resp := tr.do(t, http.MethodGet, "/v2/team-a/app/referrers/"+subject.Digest, tokenA, nil, nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != string(types.OCIImageIndex) {
		t.Fatalf("referrers = %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var idx v1.IndexManifest
	mustNil(t, json.NewDecoder(resp.Body).Decode(&idx))
	got := map[string]v1.Descriptor{}
	for _, d := range idx.Manifests {
		got[d.Digest.String()] = d
	}
	if len(got) != 2 || got[sbom.Digest].ArtifactType != typeSBOM || got[prov.Digest].ArtifactType != typeProvenance {
		t.Fatalf("referrers index = %+v", idx)
	}
	if d := got[sbom.Digest]; d.Size != sbom.Size || d.MediaType != types.OCIManifestSchema1 || d.Annotations["kind"] != typeSBOM {
		t.Fatalf("sbom descriptor = %+v, pushed %+v", d, sbom)
	}

	resp = tr.do(t, http.MethodGet, "/v2/team-a/app/referrers/"+subject.Digest+"?artifactType="+url.QueryEscape(typeSBOM), tokenA, nil, nil)
	idx = v1.IndexManifest{}
	mustNil(t, json.NewDecoder(resp.Body).Decode(&idx))
	if len(idx.Manifests) != 1 || idx.Manifests[0].Digest.String() != sbom.Digest ||
		resp.Header.Get("OCI-Filters-Applied") != "artifactType" {
		t.Fatalf("filtered referrers = %+v (filters %q)", idx, resp.Header.Get("OCI-Filters-Applied"))
	}

	// The client function sees the same.
	list, err := Referrers(context.Background(), tr.ref("team-a/app@"+subject.Digest), typeProvenance, tr.remote(tokenA))
	mustNil(t, err)
	if len(list) != 1 || list[0].Digest != prov.Digest {
		t.Fatalf("Referrers(provenance) = %+v", list)
	}
}

func TestReferrersEdgeCases(t *testing.T) {
	t.Parallel()
	tr := startRegistry(t, t.TempDir())
	subject, sbom, prov := pushWithReferrers(t, tr)

	// A subject nothing refers to: an empty index, never 404.
	resp := tr.do(t, http.MethodGet, "/v2/team-a/app/referrers/sha256:"+strings.Repeat("0", 64), tokenA, nil, nil)
	if body := readBody(t, resp); resp.StatusCode != 200 || !strings.Contains(body, `"manifests":[]`) {
		t.Fatalf("unknown subject = %d %s", resp.StatusCode, body)
	}
	resp = tr.do(t, http.MethodGet, "/v2/team-a/app/referrers/not-a-digest", tokenA, nil, nil)
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("invalid digest = %d", resp.StatusCode)
	}
	// Another repository does not see team-a/app's referrers.
	resp = tr.do(t, http.MethodGet, "/v2/team-a/other/referrers/"+subject.Digest, tokenA, nil, nil)
	if body := readBody(t, resp); !strings.Contains(body, `"manifests":[]`) {
		t.Fatalf("other repo referrers = %s", body)
	}

	// Deleting a referrer removes it from the list.
	resp = tr.do(t, http.MethodDelete, "/v2/team-a/app/manifests/"+sbom.Digest, tokenA, nil, nil)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("delete = %d %s", resp.StatusCode, readBody(t, resp))
	}
	list, err := Referrers(context.Background(), tr.ref("team-a/app@"+subject.Digest), "", tr.remote(tokenA))
	mustNil(t, err)
	if len(list) != 1 || list[0].Digest != prov.Digest {
		t.Fatalf("after delete = %+v", list)
	}
}

func TestManifestPutWithSubjectReturnsOCISubject(t *testing.T) {
	t.Parallel()
	tr := startRegistry(t, t.TempDir())
	subject, _, _ := pushWithReferrers(t, tr)
	// Reuse the blobs pushed above: the empty config and the "app" layer.
	raw := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",` +
		`"config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"` + emptyDescriptor().Digest.String() + `","size":2},` +
		`"layers":[{"mediaType":"application/vnd.oci.empty.v1+json","digest":"` + emptyDescriptor().Digest.String() + `","size":2}],` +
		`"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + subject.Digest + `","size":` +
		jsonInt(subject.Size) + `}}`
	resp := tr.do(t, http.MethodPut, "/v2/team-a/app/manifests/raw", tokenA, bytes.NewBufferString(raw),
		map[string]string{"Content-Type": string(types.OCIManifestSchema1)})
	if resp.StatusCode != http.StatusCreated || resp.Header.Get("OCI-Subject") != subject.Digest {
		t.Fatalf("PUT = %d, OCI-Subject %q: %s", resp.StatusCode, resp.Header.Get("OCI-Subject"), readBody(t, resp))
	}
	// No artifactType: the config media type stands in.
	list, err := Referrers(context.Background(), tr.ref("team-a/app@"+subject.Digest), MediaTypeEmpty, tr.remote(tokenA))
	mustNil(t, err)
	if len(list) != 1 || list[0].Digest != resp.Header.Get("Docker-Content-Digest") {
		t.Fatalf("referrers by config type = %+v", list)
	}
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

// Clients that use the referrers tag schema (cosign's sha256-<hex>.sig and
// .att tags, or an index under sha256-<hex>) keep working: they are tags.
func TestReferrersTagSchemaFallback(t *testing.T) {
	t.Parallel()
	tr := startRegistry(t, t.TempDir())
	ctx := context.Background()
	subject, sbom, _ := pushWithReferrers(t, tr)
	tag := strings.Replace(subject.Digest, ":", "-", 1)

	sig, err := PushArtifact(ctx, tr.ref("team-a/app:"+tag+".sig"),
		[]Blob{{MediaType: "application/vnd.dev.cosign.simplesigning.v1+json", Data: []byte("{}")}},
		PushOptions{Remote: tr.remote(tokenA)})
	mustNil(t, err)
	h, _ := v1.NewHash(sbom.Digest)
	fallback := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{
		{MediaType: types.OCIManifestSchema1, Digest: h, Size: sbom.Size, ArtifactType: typeSBOM}}}
	raw, _ := json.Marshal(fallback)
	ref, _ := name.ParseReference(tr.ref("team-a/app:" + tag))
	mustNil(t, remote.Put(ref, ManifestBytes{Raw: raw, Type: types.OCIImageIndex}, tr.remote(tokenA).options(ctx)...))

	tags, err := Tags(ctx, tr.ref("team-a/app"), tr.remote(tokenA))
	mustNil(t, err)
	if !slices.Contains(tags, tag) || !slices.Contains(tags, tag+".sig") {
		t.Fatalf("tags = %v", tags)
	}
	got, err := Resolve(ctx, tr.ref("team-a/app:"+tag+".sig"), tr.remote(tokenA))
	mustNil(t, err)
	if got.Digest != sig.Digest {
		t.Fatalf(".sig tag = %s, want %s", got.Digest, sig.Digest)
	}
	resp := tr.do(t, http.MethodGet, "/v2/team-a/app/manifests/"+tag, tokenA, nil,
		map[string]string{"Accept": string(types.OCIImageIndex)})
	if body := readBody(t, resp); body != string(raw) {
		t.Fatalf("fallback index = %s, want %s", body, raw)
	}
}
