package oci

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// layoutWith writes an OCI layout holding an image per tree (each tree one
// layer) and returns it with the images.
func layoutWith(t *testing.T, trees ...map[string]string) (layout.Path, []v1.Image) {
	t.Helper()
	p, err := layout.Write(t.TempDir(), empty.Index)
	mustNil(t, err)
	var imgs []v1.Image
	for _, files := range trees {
		img := treeImage(t, files)
		mustNil(t, p.AppendImage(img))
		imgs = append(imgs, img)
	}
	return p, imgs
}

func treeImage(t *testing.T, files map[string]string) v1.Image {
	t.Helper()
	dir := t.TempDir()
	writeTree(t, dir, files)
	img, cleanup, err := buildImage(ImageSpec{Layers: []string{dir}}, PushOptions{TempDir: t.TempDir()})
	mustNil(t, err)
	t.Cleanup(cleanup)
	return img
}

func digestOf(t *testing.T, d interface{ Digest() (v1.Hash, error) }) string {
	t.Helper()
	h, err := d.Digest()
	mustNil(t, err)
	return h.String()
}

// A layout's only image unpacks without naming it; among several, the
// digest chooses and its absence is an error naming them.
func TestUnpackLayout(t *testing.T) {
	t.Parallel()
	p, imgs := layoutWith(t, map[string]string{"bin/tool": "one"})
	cache := t.TempDir()
	rootfs, dgst, err := UnpackLayout(string(p), "", cache)
	mustNil(t, err)
	if want := digestOf(t, imgs[0]); dgst != want || rootfs != cachePath(cache, want) {
		t.Fatalf("UnpackLayout = %s, %s; want the manifest digest %s", rootfs, dgst, want)
	}
	if got := readFile(t, filepath.Join(rootfs, "bin/tool")); got != "one" {
		t.Fatalf("bin/tool = %q", got)
	}
	two := treeImage(t, map[string]string{"bin/tool": "two"})
	mustNil(t, p.AppendImage(two))
	if _, _, err := UnpackLayout(string(p), "", cache); err == nil || !strings.Contains(err.Error(), "lists 2 manifests") {
		t.Fatalf("two images, no digest: %v", err)
	}
	rootfs, dgst, err = UnpackLayout(string(p), digestOf(t, two), cache)
	mustNil(t, err)
	if dgst != digestOf(t, two) || readFile(t, filepath.Join(rootfs, "bin/tool")) != "two" {
		t.Fatalf("by digest: %s %s", rootfs, dgst)
	}
	for want, msg := range map[string]string{"sha256:" + strings.Repeat("0", 64): "no manifest", "sha256:xyz": "digest"} {
		if _, _, err := UnpackLayout(string(p), want, cache); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("digest %s: %v, want %q", want, err, msg)
		}
	}
	if _, _, err := UnpackLayout(t.TempDir(), "", cache); err == nil || !strings.Contains(err.Error(), "not an OCI image layout") {
		t.Errorf("empty directory: %v", err)
	}
}

// An index (by digest or as the layout's only entry) resolves to its
// linux/amd64 image, as a registry pull does.
func TestUnpackLayoutIndexPicksPlatform(t *testing.T) {
	t.Parallel()
	arm, amd := treeImage(t, map[string]string{"arch": "arm64"}), treeImage(t, map[string]string{"arch": "amd64"})
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}})
	p, err := layout.Write(t.TempDir(), empty.Index)
	mustNil(t, err)
	mustNil(t, p.AppendIndex(idx))
	for _, want := range []string{"", digestOf(t, idx)} {
		rootfs, dgst, err := UnpackLayout(string(p), want, t.TempDir())
		mustNil(t, err)
		if dgst != digestOf(t, amd) || readFile(t, filepath.Join(rootfs, "arch")) != "amd64" {
			t.Fatalf("index %q resolved to %s (%s)", want, dgst, readFile(t, filepath.Join(rootfs, "arch")))
		}
	}
	// An image inside the index can be named too.
	if _, dgst, err := UnpackLayout(string(p), digestOf(t, arm), t.TempDir()); err != nil || dgst != digestOf(t, arm) {
		t.Fatalf("nested image by digest: %s %v", dgst, err)
	}
}

// A layout's files are not trusted: a layer or manifest whose bytes do not
// match its digest fails the unpack and leaves nothing in the cache.
func TestUnpackLayoutRejectsChangedFiles(t *testing.T) {
	t.Parallel()
	for name, tamper := range map[string]func(t *testing.T, p layout.Path, img v1.Image){
		"layer": func(t *testing.T, p layout.Path, img v1.Image) {
			m, err := img.Manifest()
			mustNil(t, err)
			evil := treeImage(t, map[string]string{"bin/tool": "planted"})
			el, err := evil.Layers()
			mustNil(t, err)
			rc, err := el[0].Compressed()
			mustNil(t, err)
			defer rc.Close()
			mustNil(t, p.RemoveBlob(m.Layers[0].Digest))
			mustNil(t, p.WriteBlob(m.Layers[0].Digest, rc))
		},
		"manifest": func(t *testing.T, p layout.Path, img v1.Image) {
			h, err := img.Digest()
			mustNil(t, err)
			raw, err := img.RawManifest()
			mustNil(t, err)
			path := filepath.Join(string(p), "blobs", h.Algorithm, h.Hex)
			mustNil(t, os.WriteFile(path, []byte(strings.Replace(string(raw), `"size"`, ` "size"`, 1)), 0o644))
		},
	} {
		t.Run(name, func(t *testing.T) {
			p, imgs := layoutWith(t, map[string]string{"bin/tool": "genuine"})
			tamper(t, p, imgs[0])
			cache := t.TempDir()
			if rootfs, _, err := UnpackLayout(string(p), "", cache); err == nil {
				t.Fatalf("a changed %s was unpacked to %s", name, rootfs)
			}
			entries, err := os.ReadDir(cache)
			mustNil(t, err)
			if len(entries) != 0 {
				t.Fatalf("cache keeps %v after a failed unpack", entries)
			}
		})
	}
}
