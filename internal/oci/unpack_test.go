package oci

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestUnpackAppliesWhiteouts(t *testing.T) {
	t.Parallel()
	tr := startRegistry(t, t.TempDir())
	ctx := context.Background()
	lower, upper := t.TempDir(), t.TempDir()
	writeTree(t, lower, map[string]string{"a/keep": "keep", "a/gone": "gone", "d/old": "old", "d/sub/deep": "deep",
		"f": "file becomes dir"})
	writeTree(t, upper, map[string]string{"a/.wh.gone": "", "d/.wh..wh..opq": "", "d/new": "new", "f/inside": "now a dir"})
	d, err := PushImage(ctx, tr.ref("team-a/base:v1"), ImageSpec{Layers: []string{lower, upper}}, PushOptions{Remote: tr.remote(tokenA)})
	mustNil(t, err)

	cache := t.TempDir()
	rootfs, dgst, err := Unpack(ctx, tr.ref("team-a/base:v1"), cache, tr.remote(tokenA))
	mustNil(t, err)
	if dgst != d.Digest || rootfs != filepath.Join(cache, strings.Replace(d.Digest, ":", "-", 1)) {
		t.Fatalf("Unpack = %s, %s; pushed %s", rootfs, dgst, d.Digest)
	}
	exists := func(rel string) bool {
		_, err := os.Lstat(filepath.Join(rootfs, rel))
		return err == nil
	}
	for rel, want := range map[string]bool{"a/keep": true, "a/gone": false, "a/.wh.gone": false,
		"d/old": false, "d/sub": false, "d/new": true, "d/.wh..wh..opq": false, "f/inside": true} {
		if exists(rel) != want {
			t.Errorf("%s exists = %v, want %v", rel, !want, want)
		}
	}
	if got := readFile(t, filepath.Join(rootfs, "d/new")); got != "new" {
		t.Fatalf("d/new = %q", got)
	}
	entries, err := os.ReadDir(cache)
	mustNil(t, err)
	if len(entries) != 1 {
		t.Fatalf("cache holds %d entries, want 1 (no temp dirs left)", len(entries))
	}
}

func TestUnpackReusesCache(t *testing.T) {
	t.Parallel()
	tr := startRegistry(t, t.TempDir())
	ctx := context.Background()
	src := t.TempDir()
	writeTree(t, src, map[string]string{"bin/sh": "not really"})
	d, err := PushImage(ctx, tr.ref("team-a/rootfs:v1"), ImageSpec{Layers: []string{src}}, PushOptions{Remote: tr.remote(tokenA)})
	mustNil(t, err)
	cache := t.TempDir()
	first, _, err := Unpack(ctx, tr.ref("team-a/rootfs:v1"), cache, tr.remote(tokenA))
	mustNil(t, err)
	marker := filepath.Join(first, "marker")
	mustNil(t, os.WriteFile(marker, []byte("x"), 0o644))

	second, _, err := Unpack(ctx, tr.ref("team-a/rootfs:v1"), cache, tr.remote(tokenA))
	mustNil(t, err)
	if second != first {
		t.Fatalf("second unpack went to %s, want %s", second, first)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Fatal("cache entry was re-extracted")
	}
	// A digest reference in the cache needs no registry at all.
	tr.srv.Close()
	third, dgst, err := Unpack(ctx, tr.ref("team-a/rootfs@"+d.Digest), cache, tr.remote(tokenA))
	if err != nil || third != first || dgst != d.Digest {
		t.Fatalf("offline unpack = %s %s %v", third, dgst, err)
	}
}

// layerTar builds an uncompressed layer from headers; regular files get
// their name as content.
func layerTar(t testing.TB, headers ...*tar.Header) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range headers {
		body := ""
		if h.Typeflag == tar.TypeReg {
			body = h.Name
			h.Size = int64(len(body))
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		mustNil(t, tw.WriteHeader(h))
		_, err := tw.Write([]byte(body))
		mustNil(t, err)
	}
	mustNil(t, tw.Close())
	return &buf
}

func extractTar(t testing.TB, dir string, buf *bytes.Buffer) error {
	t.Helper()
	root, err := os.OpenRoot(dir)
	mustNil(t, err)
	defer root.Close()
	x := newExtractor(root)
	if err := x.apply(buf); err != nil {
		return err
	}
	return x.finish()
}

func TestExtractStaysInsideRoot(t *testing.T) {
	t.Parallel()
	outside := t.TempDir()
	cases := map[string]*bytes.Buffer{
		"dot-dot": layerTar(t, &tar.Header{Name: "../escape", Typeflag: tar.TypeReg}),
		"symlink parent": layerTar(t,
			&tar.Header{Name: "out", Typeflag: tar.TypeSymlink, Linkname: outside},
			&tar.Header{Name: "out/escape", Typeflag: tar.TypeReg}),
		"hard link out": layerTar(t, &tar.Header{Name: "h", Typeflag: tar.TypeLink, Linkname: "../../etc/passwd"}),
	}
	for name, buf := range cases {
		dir := t.TempDir()
		if err := extractTar(t, dir, buf); err == nil {
			t.Errorf("%s: extraction succeeded", name)
		}
	}
	if _, err := os.Stat(filepath.Join(outside, "escape")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a file was written outside the root: %v", err)
	}
}

func TestExtractModesLinksAndReadOnlyDirs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	err := extractTar(t, dir, layerTar(t,
		&tar.Header{Name: "ro/", Typeflag: tar.TypeDir, Mode: 0o555},
		&tar.Header{Name: "ro/file", Typeflag: tar.TypeReg, Mode: 0o4755},
		&tar.Header{Name: "ro/hard", Typeflag: tar.TypeLink, Linkname: "ro/file"},
		&tar.Header{Name: "./dev/null", Typeflag: tar.TypeChar},
	))
	mustNil(t, err)
	fi, err := os.Stat(filepath.Join(dir, "ro"))
	mustNil(t, err)
	if fi.Mode().Perm() != 0o555 {
		t.Fatalf("ro mode = %v", fi.Mode())
	}
	fi, err = os.Stat(filepath.Join(dir, "ro/file"))
	mustNil(t, err)
	if fi.Mode()&fs.ModeSetuid != 0 || fi.Mode().Perm() != 0o755 {
		t.Fatalf("ro/file mode = %v", fi.Mode())
	}
	if got := readFile(t, filepath.Join(dir, "ro/hard")); got != "ro/file" {
		t.Fatalf("hard link content = %q", got)
	}
	mustNil(t, os.Chmod(filepath.Join(dir, "ro"), 0o755)) // let t.TempDir clean up
}

// TestExtractBounds: an image that expands beyond the byte or entry bound
// fails instead of filling the disk.
func TestExtractBounds(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		bytes   int64
		entries int
		want    string
	}{
		"bytes":   {bytes: 10, entries: 10, want: "expands beyond"},
		"entries": {bytes: 1 << 20, entries: 2, want: "more than"},
	} {
		root, err := os.OpenRoot(t.TempDir())
		mustNil(t, err)
		x := newExtractor(root)
		x.bytesLeft, x.entriesLeft = tc.bytes, tc.entries
		err = x.apply(layerTar(t, &tar.Header{Name: "a-file-name-longer-than-ten", Typeflag: tar.TypeReg},
			&tar.Header{Name: "b", Typeflag: tar.TypeReg}, &tar.Header{Name: "c", Typeflag: tar.TypeReg}))
		root.Close()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", name, err, tc.want)
		}
	}
}
