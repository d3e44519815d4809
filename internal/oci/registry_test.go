package oci

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

func TestPushPullArtifactAndTags(t *testing.T) {
	t.Parallel()
	tr := startRegistry(t, t.TempDir())
	ctx := context.Background()
	src := t.TempDir()
	writeTree(t, src, map[string]string{"bin/app": "#!/bin/sh\necho hi\n", "README": "hello", "link": "->README", "empty/": ""})
	mustNil(t, os.Chmod(filepath.Join(src, "bin/app"), 0o755))

	opts := PushOptions{Remote: tr.remote(tokenA), Tags: []string{"abc123", "build-7"},
		Annotations: map[string]string{AnnotationSource: "https://git.example/app", AnnotationRevision: "abc123"}}
	desc, err := PushDirectory(ctx, tr.ref("team-a/app:latest"), src, opts)
	mustNil(t, err)
	if desc.ArtifactType != DefaultArtifactType || !strings.HasPrefix(desc.Digest, "sha256:") {
		t.Fatalf("descriptor = %+v", desc)
	}

	tags, err := Tags(ctx, tr.ref("team-a/app"), tr.remote(tokenA))
	mustNil(t, err)
	slices.Sort(tags)
	if want := []string{"abc123", "build-7", "latest"}; !slices.Equal(tags, want) {
		t.Fatalf("tags = %v, want %v", tags, want)
	}
	for _, tag := range tags {
		got, err := Resolve(ctx, tr.ref("team-a/app:"+tag), tr.remote(tokenA))
		mustNil(t, err)
		if got.Digest != desc.Digest {
			t.Fatalf("tag %s → %s, want %s", tag, got.Digest, desc.Digest)
		}
	}

	dst := t.TempDir()
	pulled, err := Pull(ctx, tr.ref("team-a/app@"+desc.Digest), dst, tr.remote(tokenA))
	mustNil(t, err)
	if pulled.Digest != desc.Digest || pulled.Annotations[AnnotationRevision] != "abc123" ||
		pulled.Annotations[AnnotationCreated] != "1970-01-01T00:00:00Z" || pulled.ArtifactType != DefaultArtifactType {
		t.Fatalf("pulled = %+v", pulled)
	}
	assertTree(t, dst)
}

func assertTree(t *testing.T, dst string) {
	t.Helper()
	if got := readFile(t, filepath.Join(dst, "README")); got != "hello" {
		t.Fatalf("README = %q", got)
	}
	if target, err := os.Readlink(filepath.Join(dst, "link")); err != nil || target != "README" {
		t.Fatalf("link → %q, %v", target, err)
	}
	fi, err := os.Stat(filepath.Join(dst, "bin/app"))
	mustNil(t, err)
	if fi.Mode().Perm() != 0o755 {
		t.Fatalf("bin/app mode = %v", fi.Mode())
	}
	if fi, err := os.Stat(filepath.Join(dst, "empty")); err != nil || !fi.IsDir() {
		t.Fatalf("empty dir missing: %v", err)
	}
}

func TestBlobUploadsMonolithicAndChunked(t *testing.T) {
	t.Parallel()
	tr := startRegistry(t, t.TempDir())
	data := bytes.Repeat([]byte("kiln"), 5000)
	dgst := fmt.Sprintf("sha256:%x", sha256.Sum256(data))

	// Chunked: POST, two PATCHes with Content-Range, PUT with the digest.
	resp := tr.do(t, http.MethodPost, "/v2/team-a/chunks/blobs/uploads/", tokenA, nil, nil)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST upload = %d %s", resp.StatusCode, readBody(t, resp))
	}
	loc := resp.Header.Get("Location")
	for _, part := range [][2]int{{0, 7000}, {7000, len(data)}} {
		resp = tr.do(t, http.MethodPatch, loc, tokenA, bytes.NewReader(data[part[0]:part[1]]), map[string]string{
			"Content-Type": "application/octet-stream", "Content-Range": fmt.Sprintf("%d-%d", part[0], part[1]-1)})
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("PATCH %v = %d %s", part, resp.StatusCode, readBody(t, resp))
		}
		loc = resp.Header.Get("Location")
	}
	sep := "?"
	if strings.Contains(loc, "?") {
		sep = "&"
	}
	resp = tr.do(t, http.MethodPut, loc+sep+"digest="+dgst, tokenA, nil, nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT upload = %d %s", resp.StatusCode, readBody(t, resp))
	}
	resp = tr.do(t, http.MethodGet, "/v2/team-a/chunks/blobs/"+dgst, tokenA, nil, nil)
	if got := readBody(t, resp); got != string(data) {
		t.Fatalf("chunked blob read back %d bytes, want %d", len(got), len(data))
	}

	// Monolithic: POST then one PUT carrying the whole body.
	other := []byte("monolithic")
	odgst := fmt.Sprintf("sha256:%x", sha256.Sum256(other))
	resp = tr.do(t, http.MethodPost, "/v2/team-a/mono/blobs/uploads/", tokenA, nil, nil)
	loc = resp.Header.Get("Location")
	resp = tr.do(t, http.MethodPut, loc+"&digest="+odgst, tokenA, bytes.NewReader(other),
		map[string]string{"Content-Type": "application/octet-stream"})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("monolithic PUT = %d %s", resp.StatusCode, readBody(t, resp))
	}
	resp = tr.do(t, http.MethodHead, "/v2/team-a/mono/blobs/"+odgst, tokenA, nil, nil)
	if resp.StatusCode != http.StatusOK || resp.ContentLength != int64(len(other)) {
		t.Fatalf("HEAD blob = %d, length %d", resp.StatusCode, resp.ContentLength)
	}
}

func TestImageIndexAndDelete(t *testing.T) {
	t.Parallel()
	tr := startRegistry(t, t.TempDir())
	ctx := context.Background()
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"etc/motd": "hi"})
	img, err := PushImage(ctx, tr.ref("team-a/img:v1"), ImageSpec{Layers: []string{dir}}, PushOptions{Remote: tr.remote(tokenA)})
	mustNil(t, err)

	// An index pointing at the image, pushed with go-containerregistry.
	h, _ := v1.NewHash(img.Digest)
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), mutate.IndexAddendum{
		Add:        &fakeDescribable{d: v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: h, Size: img.Size}},
		Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}},
	})
	ref, _ := name.ParseReference(tr.ref("team-a/img:multi"))
	mustNil(t, remote.Put(ref, idx, tr.remote(tokenA).options(ctx)...))
	resp := tr.do(t, http.MethodGet, "/v2/team-a/img/manifests/multi", tokenA, nil,
		map[string]string{"Accept": string(types.OCIImageIndex)})
	var im v1.IndexManifest
	mustNil(t, json.NewDecoder(resp.Body).Decode(&im))
	if len(im.Manifests) != 1 || im.Manifests[0].Digest != h {
		t.Fatalf("index = %+v", im)
	}

	// Pulling the index resolves linux/amd64.
	pulled, err := Pull(ctx, tr.ref("team-a/img:multi"), t.TempDir(), tr.remote(tokenA))
	mustNil(t, err)
	if pulled.Digest != img.Digest {
		t.Fatalf("pulled %s via index, want %s", pulled.Digest, img.Digest)
	}

	resp = tr.do(t, http.MethodDelete, "/v2/team-a/img/manifests/"+img.Digest, tokenA, nil, nil)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("DELETE = %d %s", resp.StatusCode, readBody(t, resp))
	}
	resp = tr.do(t, http.MethodHead, "/v2/team-a/img/manifests/"+img.Digest, tokenA, nil, nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("HEAD after delete = %d", resp.StatusCode)
	}
}

// fakeDescribable lets an index name a manifest by descriptor only.
type fakeDescribable struct{ d v1.Descriptor }

func (f *fakeDescribable) Digest() (v1.Hash, error)            { return f.d.Digest, nil }
func (f *fakeDescribable) Size() (int64, error)                { return f.d.Size, nil }
func (f *fakeDescribable) MediaType() (types.MediaType, error) { return f.d.MediaType, nil }

func TestContentSurvivesRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := context.Background()
	first := startRegistry(t, dir)
	src := t.TempDir()
	writeTree(t, src, map[string]string{"a.txt": "persist me"})
	desc, err := PushDirectory(ctx, first.ref("team-a/keep:v1"), src, PushOptions{Remote: first.remote(tokenA)})
	mustNil(t, err)
	ref, err := PushArtifact(ctx, first.ref("team-a/keep:sig"), []Blob{{MediaType: "text/plain", Data: []byte("sig")}},
		PushOptions{Remote: first.remote(tokenA), ArtifactType: "application/vnd.test.sig",
			Subject: &desc})
	mustNil(t, err)
	first.srv.Close()
	mustNil(t, first.reg.Close())

	second := startRegistry(t, dir)
	got, err := Resolve(ctx, second.ref("team-a/keep:v1"), second.remote(tokenA))
	mustNil(t, err)
	if got.Digest != desc.Digest {
		t.Fatalf("after restart v1 = %s, want %s", got.Digest, desc.Digest)
	}
	dst := t.TempDir()
	_, err = Pull(ctx, second.ref("team-a/keep:v1"), dst, second.remote(tokenA))
	mustNil(t, err)
	if s := readFile(t, filepath.Join(dst, "a.txt")); s != "persist me" {
		t.Fatalf("a.txt = %q", s)
	}
	refs, err := Referrers(ctx, second.ref("team-a/keep@"+desc.Digest), "", second.remote(tokenA))
	mustNil(t, err)
	if len(refs) != 1 || refs[0].Digest != ref.Digest {
		t.Fatalf("referrers after restart = %+v, want %s", refs, ref.Digest)
	}
}
