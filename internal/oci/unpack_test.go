package oci

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
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
	third, dgst, err := Unpack(ctx, tr.ref("team-a/rootfs@"+d.Digest), cache, tr.remote(tokenA))
	if err != nil || third != first || dgst != d.Digest {
		t.Fatalf("unpack by digest = %s %s %v", third, dgst, err)
	}
}

// A cached digest is used only after the registry let this caller resolve
// the manifest: another tenant's token, a repository that does not hold
// the digest, or an unreachable registry all fail, and the cache entry
// never stands in for the registry's answer.
func TestUnpackAuthorisesEveryUse(t *testing.T) {
	t.Parallel()
	tr := startRegistry(t, t.TempDir())
	ctx := context.Background()
	src := t.TempDir()
	writeTree(t, src, map[string]string{"secret": "team-a only"})
	d, err := PushImage(ctx, tr.ref("team-a/private:v1"), ImageSpec{Layers: []string{src}}, PushOptions{Remote: tr.remote(tokenA)})
	mustNil(t, err)
	cache := t.TempDir()
	cached, _, err := Unpack(ctx, tr.ref("team-a/private@"+d.Digest), cache, tr.remote(tokenA))
	mustNil(t, err)
	for name, c := range map[string]struct {
		ref string
		rem Remote
	}{
		"other tenant's token":    {tr.ref("team-a/private@" + d.Digest), tr.remote(tokenB)},
		"digest not in repo":      {tr.ref("team-b/private@" + d.Digest), tr.remote(tokenB)},
		"no credentials":          {tr.ref("team-a/private@" + d.Digest), Remote{RootCAs: tr.cas}},
		"registry does not exist": {"127.0.0.1:1/team-a/private@" + d.Digest, tr.remote(tokenA)},
	} {
		rootfs, _, err := Unpack(ctx, c.ref, cache, c.rem)
		if err == nil {
			t.Errorf("%s: Unpack used the cached %s", name, rootfs)
		}
	}
	if got := readFile(t, filepath.Join(cached, "secret")); got != "team-a only" {
		t.Fatalf("cache entry changed: %q", got)
	}
}

// A registry that serves other bytes under a layer's digest cannot fill the
// cache: the layer is read to its end and verified, and nothing is kept.
func TestUnpackRejectsLayerNotMatchingItsDigest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	real, evil := t.TempDir(), t.TempDir()
	writeTree(t, real, map[string]string{"bin/tool": "genuine"})
	writeTree(t, evil, map[string]string{"bin/tool": "planted"})
	evilLayer, err := buildLayer(evil, t.TempDir(), time.Unix(0, 0))
	mustNil(t, err)
	evilBytes, err := io.ReadAll(mustReader(t, evilLayer.Compressed))
	mustNil(t, err)
	var swap atomic.Value // the layer digest whose bytes are replaced
	swap.Store("")
	inner := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if dg := swap.Load().(string); dg != "" && r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/blobs/"+dg) {
			_, _ = w.Write(evilBytes)
			return
		}
		inner.ServeHTTP(w, r)
	}))
	defer srv.Close()
	rem := Remote{PlainHTTP: true}
	ref := strings.TrimPrefix(srv.URL, "http://") + "/base/tools:v1"
	d, err := PushImage(ctx, ref, ImageSpec{Layers: []string{real}}, PushOptions{Remote: rem})
	mustNil(t, err)
	realLayer, err := buildLayer(real, t.TempDir(), time.Unix(0, 0))
	mustNil(t, err)
	ld, _ := realLayer.Digest()
	swap.Store(ld.String())

	cache := t.TempDir()
	if rootfs, _, err := Unpack(ctx, ref, cache, rem); err == nil {
		t.Fatalf("a layer with other bytes than its digest was unpacked to %s (%s)", rootfs, readFile(t, filepath.Join(rootfs, "bin/tool")))
	}
	entries, err := os.ReadDir(cache)
	mustNil(t, err)
	if len(entries) != 0 {
		t.Fatalf("cache keeps %v after a failed unpack of %s", entries, d.Digest)
	}
}

func mustReader(t *testing.T, open func() (io.ReadCloser, error)) io.Reader {
	t.Helper()
	rc, err := open()
	mustNil(t, err)
	t.Cleanup(func() { rc.Close() })
	return rc
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

// TestExtractStripsSetuidSetgid: setuid and setgid bits of an image never
// reach the disk, on files or directories, in any layer; the sticky bit of
// a /tmp-like directory and the permission bits stay.
func TestExtractStripsSetuidSetgid(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	mustNil(t, extractTar(t, dir, layerTar(t,
		&tar.Header{Name: "usr/bin/", Typeflag: tar.TypeDir, Mode: 0o755},
		&tar.Header{Name: "usr/bin/su", Typeflag: tar.TypeReg, Mode: 0o4755},
		&tar.Header{Name: "usr/bin/wall", Typeflag: tar.TypeReg, Mode: 0o2755},
		&tar.Header{Name: "usr/bin/both", Typeflag: tar.TypeReg, Mode: 0o6750},
		&tar.Header{Name: "usr/bin/su-again", Typeflag: tar.TypeLink, Linkname: "usr/bin/su"},
		&tar.Header{Name: "srv/shared/", Typeflag: tar.TypeDir, Mode: 0o2775},
		&tar.Header{Name: "tmp/", Typeflag: tar.TypeDir, Mode: 0o1777},
	)))
	// A later layer brings the setuid file back with a new mode.
	mustNil(t, extractTar(t, dir, layerTar(t, &tar.Header{Name: "usr/bin/su", Typeflag: tar.TypeReg, Mode: 0o4711})))
	for name, want := range map[string]fs.FileMode{
		"usr/bin/su": 0o711, "usr/bin/wall": 0o755, "usr/bin/both": 0o750, "usr/bin/su-again": 0o755,
		"srv/shared": fs.ModeDir | 0o775, "tmp": fs.ModeDir | fs.ModeSticky | 0o777,
	} {
		fi, err := os.Lstat(filepath.Join(dir, name))
		mustNil(t, err)
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", name, fi.Mode(), want)
		}
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
	if fi.Mode() != 0o755 {
		t.Fatalf("ro/file mode = %v, want 0755 (no setuid)", fi.Mode())
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
