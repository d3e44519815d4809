package publish

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/kilnbuild/kiln/internal/attest"
	"github.com/kilnbuild/kiln/internal/oci"
)

// A signed artifact with its evidence is copied from Kiln's registry to a
// production registry, re-signed there with a release key, and verified
// with both keys; copying again writes nothing and keeps the release
// signature. Run against a destination with and without the referrers API.
func TestCopySignedArtifact(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name         string
		referrersAPI bool
	}{{"tag-schema fallback", false}, {"referrers API", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			testCopySigned(t, tc.referrersAPI)
		})
	}
}

func testCopySigned(t *testing.T, referrersAPI bool) {
	ctx := context.Background()
	src, prod := startSource(t), startProduction(t, referrersAPI)
	builder, release := newSigner(t), newSigner(t)
	ref := pushSigned(t, src, builder, "team/greet:1")
	req := CopyRequest{Source: ref, Destination: prod.ref("releases/greet"), Tags: []string{"1.0.0", "latest"},
		SourceRemote: src.rem, DestinationRemote: prod.rem}

	res, err := Copy(ctx, req)
	must(t, err)
	digest := ref[strings.Index(ref, "@")+1:]
	dst := prod.ref("releases/greet@" + digest)
	if res.Reference != dst || res.Digest != digest {
		t.Fatalf("copied to %s (%s), want %s", res.Reference, res.Digest, dst)
	}
	// artifact + .sig + .att + .sbom; blobs: the shared empty config, the
	// artifact's layer, the signature, 2 attestations (provenance, SBOM),
	// the plain SBOM; tags: 2 requested + 3 cosign tags.
	want := Counts{Manifests: 4, Blobs: 6, Tags: 5}
	if got := withoutBytes(res.Copied); got != want || res.Copied.Bytes == 0 || res.Skipped != (Counts{}) {
		t.Fatalf("first copy: copied %+v, skipped %+v; want copied %+v", res.Copied, res.Skipped, want)
	}
	if len(res.Referrers) != 3 {
		t.Fatalf("referrers copied: %+v", res.Referrers)
	}
	checkTags(t, prod, "releases/greet", digest, "1.0.0", "latest")
	checkReferrers(t, src, prod, ref, dst, !referrersAPI)

	_, err = attest.Verify(ctx, dst, builder.PublicKey(), prod.rem, attest.VerifyOptions{BuilderID: testBuilder})
	must(t, err)
	if _, err := attest.VerifySignature(ctx, dst, release.PublicKey(), prod.rem); !errors.Is(err, attest.ErrSignatureInvalid) {
		t.Fatalf("before Resign, the release key verifies: %v", err)
	}
	must(t, Resign(ctx, dst, release, prod.rem))
	checkBothKeys(t, prod, dst, builder, release)
	sig := prod.ref("releases/greet:" + strings.Replace(digest, ":", "-", 1) + ".sig")
	before := resolve(t, sig, prod.rem)
	must(t, Resign(ctx, dst, release, prod.rem)) // idempotent
	if after := resolve(t, sig, prod.rem); after != before {
		t.Fatalf("a second Resign rewrote .sig: %s → %s", before, after)
	}

	again, err := Copy(ctx, req)
	must(t, err)
	if again.Copied != (Counts{}) || withoutBytes(again.Skipped) != want || again.Skipped.Bytes != res.Copied.Bytes {
		t.Fatalf("second copy: copied %+v, skipped %+v; want nothing copied, %+v skipped", again.Copied, again.Skipped, want)
	}
	if got := resolve(t, sig, prod.rem); got != before {
		t.Fatalf("copying again re-pointed .sig from %s to %s", before, got)
	}
	checkBothKeys(t, prod, dst, builder, release)
	if !referrersAPI {
		cosignVerify(t, prod, dst, builder, release)
	}
}

func withoutBytes(c Counts) Counts { c.Bytes = 0; return c }

func resolve(t *testing.T, ref string, rem oci.Remote) string {
	t.Helper()
	d, err := oci.Resolve(context.Background(), ref, rem)
	must(t, err)
	return d.Digest
}

func checkTags(t *testing.T, r *testRegistry, repo, digest string, tags ...string) {
	t.Helper()
	for _, tag := range tags {
		if got := resolve(t, r.ref(repo+":"+tag), r.rem); got != digest {
			t.Fatalf("%s:%s = %s, want %s", repo, tag, got, digest)
		}
	}
}

// checkReferrers: the destination lists the source's referrers, same digests.
// With filter, also filter by artifactType (ggcr's registry, with its
// referrers API on, reports the config media type as the artifactType, so
// that check only holds through the tag-schema fallback).
func checkReferrers(t *testing.T, src, prod *testRegistry, srcRef, dstRef string, filter bool) {
	t.Helper()
	digests := func(r *testRegistry, ref string) []string {
		descs, err := oci.Referrers(context.Background(), ref, "", r.rem)
		must(t, err)
		var out []string
		for _, d := range descs {
			out = append(out, d.Digest)
		}
		slices.Sort(out)
		return out
	}
	want, got := digests(src, srcRef), digests(prod, dstRef)
	if len(want) != 3 || !slices.Equal(got, want) {
		t.Fatalf("destination referrers %v, source referrers %v", got, want)
	}
	if !filter {
		return
	}
	sboms, err := oci.Referrers(context.Background(), dstRef, attest.MediaTypeSPDX, prod.rem)
	must(t, err)
	if len(sboms) != 1 {
		t.Fatalf("SPDX referrers at the destination: %+v", sboms)
	}
}

// checkBothKeys: the full evidence verifies with the builder key, the
// signature with the release key, and not with an unrelated key.
func checkBothKeys(t *testing.T, prod *testRegistry, dst string, builder, release *attest.Signer) {
	t.Helper()
	ctx := context.Background()
	_, err := attest.Verify(ctx, dst, builder.PublicKey(), prod.rem, attest.VerifyOptions{BuilderID: testBuilder})
	must(t, err)
	rep, err := attest.VerifySignature(ctx, dst, release.PublicKey(), prod.rem)
	must(t, err)
	if rep.Signatures != 1 {
		t.Fatalf("release signatures: %d", rep.Signatures)
	}
	if _, err := attest.VerifySignature(ctx, dst, newSigner(t).PublicKey(), prod.rem); !errors.Is(err, attest.ErrSignatureInvalid) {
		t.Fatalf("an unrelated key: %v", err)
	}
}

var (
	cosignOnce sync.Once
	cosignBin  string
	cosignErr  error
)

// cosignVerify runs `cosign verify --key` (go tool cosign, pinned in
// go.mod) against the destination with each key, and checks an unrelated
// key is refused. Skipped when cosign cannot be built, unless CI or
// KILN_REQUIRE_COSIGN is set.
func cosignVerify(t *testing.T, prod *testRegistry, ref string, keys ...*attest.Signer) {
	t.Helper()
	cosignOnce.Do(func() {
		out, err := exec.Command("go", "tool", "-n", "cosign").Output()
		cosignBin, cosignErr = strings.TrimSpace(string(out)), err
	})
	if cosignErr != nil {
		if os.Getenv("CI") != "" || os.Getenv("KILN_REQUIRE_COSIGN") != "" {
			t.Fatalf("go tool cosign is required: %v", cosignErr)
		}
		t.Logf("skipping cosign verify: go tool cosign unavailable: %v", cosignErr)
		return
	}
	home := t.TempDir()
	env := append(os.Environ(), "HOME="+home, "DOCKER_CONFIG="+filepath.Join(home, ".docker"),
		"SSL_CERT_FILE="+caFile(t), "TUF_ROOT="+filepath.Join(home, ".sigstore"), "SIGSTORE_NO_CACHE=true")
	run := func(s *attest.Signer) (string, error) {
		key := filepath.Join(t.TempDir(), "k.pub")
		must(t, os.WriteFile(key, s.PublicKeyPEM(), 0o644))
		cmd := exec.Command(cosignBin, "verify", "--key", key, "--insecure-ignore-tlog=true", "--new-bundle-format=false", ref)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	for i, k := range keys {
		if out, err := run(k); err != nil || !strings.Contains(out, ref[strings.Index(ref, "@")+1:]) {
			t.Fatalf("cosign verify with key %d: %v\n%s", i, err, out)
		}
	}
	if out, err := run(newSigner(t)); err == nil {
		t.Fatalf("cosign verify accepted an unrelated key:\n%s", out)
	}
	t.Logf("cosign verify passed with %d keys and refused an unrelated one", len(keys))
}

// An image index is copied with its child images, digests unchanged.
func TestCopyIndex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src, prod := startSource(t), startProduction(t, false)
	var idx v1.ImageIndex = empty.Index
	for range 2 {
		img, err := random.Image(256, 2)
		must(t, err)
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img})
	}
	h, err := idx.Digest()
	must(t, err)
	ref, err := name.ParseReference(src.ref("team/multi:1"))
	must(t, err)
	must(t, remote.WriteIndex(ref, idx, src.rem.RemoteOptions(ctx)...))

	res, err := Copy(ctx, CopyRequest{Source: src.ref("team/multi@" + h.String()), Destination: prod.ref("multi"),
		Tags: []string{"v1"}, SourceRemote: src.rem, DestinationRemote: prod.rem})
	must(t, err)
	// index + 2 images; each image: config + 2 layers.
	if want := (Counts{Manifests: 3, Blobs: 6, Tags: 1}); withoutBytes(res.Copied) != want {
		t.Fatalf("copied %+v, want %+v", res.Copied, want)
	}
	checkTags(t, prod, "multi", h.String(), "v1")
	got, err := remote.Index(prodRef(t, prod, "multi:v1"), prod.rem.RemoteOptions(ctx)...)
	must(t, err)
	m, err := got.IndexManifest()
	must(t, err)
	for _, child := range m.Manifests {
		if _, err := oci.Resolve(ctx, prod.ref("multi@"+child.Digest.String()), prod.rem); err != nil {
			t.Fatalf("child %s missing at the destination: %v", child.Digest, err)
		}
	}
}

func prodRef(t *testing.T, r *testRegistry, s string) name.Reference {
	ref, err := name.ParseReference(r.ref(s))
	must(t, err)
	return ref
}

func TestCopyRefusesUnpinnedSource(t *testing.T) {
	t.Parallel()
	for _, src := range []string{"127.0.0.1:5000/team/greet:1", "127.0.0.1:5000/team/greet", "not a ref"} {
		_, err := Copy(context.Background(), CopyRequest{Source: src, Destination: "127.0.0.1:5001/greet"})
		if err == nil || !strings.Contains(err.Error(), "must be pinned by digest") {
			t.Fatalf("Copy(%q) = %v, want a pinned-by-digest error", src, err)
		}
	}
	err := Resign(context.Background(), "127.0.0.1:5000/team/greet:1", nil, oci.Remote{})
	if err == nil || !strings.Contains(err.Error(), "must be pinned by digest") {
		t.Fatalf("Resign of a tag = %v", err)
	}
}

// Resign also works on an artifact that has no signature yet.
func TestResignUnsignedArtifact(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := startSource(t)
	ref := pushFiles(t, src, "team/plain:1", map[string]string{"a.txt": "a"})
	release := newSigner(t)
	must(t, Resign(ctx, ref, release, src.rem))
	rep, err := attest.VerifySignature(ctx, ref, release.PublicKey(), src.rem)
	must(t, err)
	if rep.Signatures != 1 {
		t.Fatalf("signatures: %d", rep.Signatures)
	}
	refs, err := oci.Referrers(ctx, ref, attest.MediaTypeSimpleSigning, src.rem)
	must(t, err)
	if len(refs) != 1 {
		t.Fatalf("the new .sig is not a referrer: %+v", refs)
	}
}
