package oci

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// makeContent writes the same logical tree in the given order, with
// arbitrary mtimes and permission noise the tar rules must erase.
func makeContent(t *testing.T, order []string, mtime time.Time, noisyModes bool) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{"b/z.txt": "zzz", "a.txt": "aaa", "b/c/tool": "#!/bin/sh\n", "link": "->a.txt", "d/": ""}
	for _, rel := range order {
		writeTree(t, dir, map[string]string{rel: files[rel]})
	}
	tool, plain := os.FileMode(0o755), os.FileMode(0o644)
	if noisyModes {
		tool, plain = 0o700, 0o600
	}
	mustNil(t, os.Chmod(filepath.Join(dir, "b/c/tool"), tool))
	mustNil(t, os.Chmod(filepath.Join(dir, "a.txt"), plain))
	for _, rel := range order {
		if rel != "link" {
			mustNil(t, os.Chtimes(filepath.Join(dir, rel), mtime, mtime))
		}
	}
	return dir
}

func TestPushDirectoryIsReproducible(t *testing.T) {
	t.Parallel()
	tr := startRegistry(t, t.TempDir())
	ctx := context.Background()
	opts := PushOptions{Remote: tr.remote(tokenA)}
	order := []string{"a.txt", "b/z.txt", "b/c/tool", "link", "d/"}
	reversed := slices.Clone(order)
	slices.Reverse(reversed)

	first := makeContent(t, order, time.Date(2020, 1, 2, 3, 4, 5, 6, time.UTC), false)
	second := makeContent(t, reversed, time.Now(), true)
	d1, err := PushDirectory(ctx, tr.ref("team-a/repro:one"), first, opts)
	mustNil(t, err)
	d2, err := PushDirectory(ctx, tr.ref("team-a/repro:two"), second, opts)
	mustNil(t, err)
	if d1.Digest != d2.Digest {
		t.Fatalf("same content, different digests: %s vs %s", d1.Digest, d2.Digest)
	}

	// Touching every file changes nothing either.
	mustNil(t, os.Chtimes(filepath.Join(first, "a.txt"), time.Now(), time.Now()))
	d3, err := PushDirectory(ctx, tr.ref("team-a/repro:three"), first, opts)
	mustNil(t, err)
	if d3.Digest != d1.Digest {
		t.Fatalf("touching a file changed the digest")
	}

	// Content, the exec bit and the epoch all matter.
	mustNil(t, os.WriteFile(filepath.Join(first, "a.txt"), []byte("AAA"), 0o644))
	changed, err := PushDirectory(ctx, tr.ref("team-a/repro:changed"), first, opts)
	mustNil(t, err)
	mustNil(t, os.Chmod(filepath.Join(second, "a.txt"), 0o755))
	execBit, err := PushDirectory(ctx, tr.ref("team-a/repro:exec"), second, opts)
	mustNil(t, err)
	later := opts
	later.Epoch = time.Unix(1700000000, 0)
	epoch, err := PushDirectory(ctx, tr.ref("team-a/repro:epoch"), makeContent(t, order, time.Now(), false), later)
	mustNil(t, err)
	seen := map[string]bool{d1.Digest: true}
	for _, d := range []Descriptor{changed, execBit, epoch} {
		if seen[d.Digest] {
			t.Fatalf("distinct inputs share digest %s", d.Digest)
		}
		seen[d.Digest] = true
	}
	if epoch.Annotations[AnnotationCreated] != "2023-11-14T22:13:20Z" {
		t.Fatalf("created = %q", epoch.Annotations[AnnotationCreated])
	}
}

func TestLayerFollowsTarRules(t *testing.T) {
	t.Parallel()
	dir := makeContent(t, []string{"link", "d/", "b/c/tool", "a.txt", "b/z.txt"}, time.Now(), true)
	l, err := buildLayer(dir, t.TempDir(), time.Unix(42, 0))
	mustNil(t, err)
	defer l.Close()
	raw, err := os.ReadFile(l.path)
	mustNil(t, err)
	gz, err := gzip.NewReader(bytes.NewReader(raw))
	mustNil(t, err)
	if !gz.ModTime.IsZero() || gz.Name != "" {
		t.Fatalf("gzip header carries mtime %v / name %q", gz.ModTime, gz.Name)
	}
	type entry struct {
		name string
		mode int64
		link string
	}
	var got []entry
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		mustNil(t, err)
		if h.ModTime.Unix() != 42 || h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" {
			t.Fatalf("%s: mtime %v uid %d gid %d %q/%q", h.Name, h.ModTime, h.Uid, h.Gid, h.Uname, h.Gname)
		}
		got = append(got, entry{h.Name, h.Mode, h.Linkname})
	}
	want := []entry{{"a.txt", 0o644, ""}, {"b/", 0o755, ""}, {"b/c/", 0o755, ""}, {"b/c/tool", 0o755, ""},
		{"b/z.txt", 0o644, ""}, {"d/", 0o755, ""}, {"link", 0o777, "a.txt"}}
	if !slices.Equal(got, want) {
		t.Fatalf("entries:\n got %v\nwant %v", got, want)
	}
}

func TestPushImageIsRunnableAndReproducible(t *testing.T) {
	t.Parallel()
	tr := startRegistry(t, t.TempDir())
	ctx := context.Background()
	spec := func() ImageSpec {
		return ImageSpec{
			Layers: []string{makeContent(t, []string{"a.txt", "b/z.txt", "b/c/tool", "link", "d/"}, time.Now(), false)},
			Config: ImageConfig{Entrypoint: []string{"/b/c/tool"}, Env: []string{"PATH=/bin"}, WorkingDir: "/d"},
		}
	}
	opts := PushOptions{Remote: tr.remote(tokenA), Epoch: time.Unix(1000, 0)}
	d1, err := PushImage(ctx, tr.ref("team-a/img:one"), spec(), opts)
	mustNil(t, err)
	d2, err := PushImage(ctx, tr.ref("team-a/img:two"), spec(), opts)
	mustNil(t, err)
	if d1.Digest != d2.Digest {
		t.Fatalf("image digests differ: %s vs %s", d1.Digest, d2.Digest)
	}
	img, err := fetchImage(ctx, tr.ref("team-a/img@"+d1.Digest), tr.remote(tokenA))
	mustNil(t, err)
	cf, err := img.ConfigFile()
	mustNil(t, err)
	if cf.OS != "linux" || cf.Architecture != "amd64" || cf.Created.Unix() != 1000 ||
		!slices.Equal(cf.Config.Entrypoint, []string{"/b/c/tool"}) || cf.Config.WorkingDir != "/d" ||
		len(cf.RootFS.DiffIDs) != 1 || cf.History[0].Created.Unix() != 1000 {
		t.Fatalf("config = %+v", cf)
	}
	m, err := img.Manifest()
	mustNil(t, err)
	if m.MediaType != "application/vnd.oci.image.manifest.v1+json" || m.Config.MediaType != "application/vnd.oci.image.config.v1+json" {
		t.Fatalf("manifest = %+v", m)
	}
}

func TestPushRefErrors(t *testing.T) {
	t.Parallel()
	tr := startRegistry(t, t.TempDir())
	ctx := context.Background()
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"f": "x"})
	_, err := PushDirectory(ctx, tr.ref("team-a/app@sha256:"+string(bytes.Repeat([]byte("a"), 64))), dir,
		PushOptions{Remote: tr.remote(tokenA)})
	if err == nil {
		t.Fatal("pushing to a digest that is not the content's succeeded")
	}
	mustNil(t, os.Symlink("/dev/null", filepath.Join(dir, "dev")))
	mustNil(t, mkfifo(filepath.Join(dir, "pipe")))
	if _, err := PushDirectory(ctx, tr.ref("team-a/app:v1"), dir, PushOptions{Remote: tr.remote(tokenA)}); err == nil {
		t.Fatal("a FIFO was archived")
	}
}

// TestLayerNeverFollowsLinksOut: a build's output holding links to a
// secret outside it (absolute, "..", /proc/self/root, a linked directory)
// is archived with the links as links; the secret's bytes are not in the
// layer.
func TestLayerNeverFollowsLinksOut(t *testing.T) {
	t.Parallel()
	secretDir := t.TempDir()
	secret := filepath.Join(secretDir, "secret.key")
	mustNil(t, os.WriteFile(secret, []byte("SECRET-BYTES-4e1d"), 0o600))
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"f": "x"})
	links := map[string]string{"abs": secret, "dotdot": strings.Repeat("../", 30) + secret[1:],
		"proc": "/proc/self/root" + secret, "keys": secretDir}
	for name, target := range links {
		mustNil(t, os.Symlink(target, filepath.Join(dir, name)))
	}
	var buf bytes.Buffer
	mustNil(t, writeTar(dir, time.Unix(0, 0), &buf))
	if bytes.Contains(buf.Bytes(), []byte("SECRET-BYTES")) {
		t.Fatal("the layer holds the secret")
	}
	tr := tar.NewReader(&buf)
	got := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		mustNil(t, err)
		got[h.Name] = h.Linkname
	}
	for name, target := range links {
		if got[name] != target {
			t.Errorf("%s: link %q, want %q", name, got[name], target)
		}
	}
	if _, ok := got["keys/secret.key"]; ok {
		t.Error("the walk entered a linked directory")
	}
}

// A registry that moved: a reference naming its old address is read from
// the new one when the Remote says where it is now.
func TestRemoteAddressReadsAMovedRegistry(t *testing.T) {
	t.Parallel()
	tr := startRegistry(t, t.TempDir())
	ctx := context.Background()
	d, err := PushDirectory(ctx, tr.ref("team-a/moved:v1"), makeContent(t, []string{"a.txt", "b/z.txt", "b/c/tool", "link", "d/"}, time.Now(), false), PushOptions{Remote: tr.remote(tokenA)})
	mustNil(t, err)
	old := "127.0.0.1:1/team-a/moved@" + d.Digest
	if _, err := Resolve(ctx, old, tr.remote(tokenA)); err == nil {
		t.Fatal("the old address answered")
	}
	moved := tr.remote(tokenA)
	moved.Address = tr.host
	got, err := Resolve(ctx, old, moved)
	mustNil(t, err)
	if got.Digest != d.Digest {
		t.Fatalf("resolved %s, want %s", got.Digest, d.Digest)
	}
	dir := t.TempDir()
	if _, err := Pull(ctx, old, dir, moved); err != nil {
		t.Fatalf("pull through the new address: %v", err)
	}
}
