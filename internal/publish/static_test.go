package publish

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kilnbuild/kiln/internal/oci"
)

func readFile(t testing.TB, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	must(t, err)
	return string(b)
}

func sha(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }

func TestPublishFiles(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := startSource(t)
	files := map[string]string{"greet-linux-amd64.tar.gz": "binary", "docs/README.txt": "read me\n",
		"greet-latest.tar.gz": "->greet-linux-amd64.tar.gz"}
	ref := pushFiles(t, src, "team/greet:1", files)
	root := t.TempDir()
	now := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	req := StaticRequest{Artifact: ref, Remote: src.rem, Dir: root, Subdir: "greet/1.0", Now: now}

	res, err := PublishFiles(ctx, req)
	must(t, err)
	dir := filepath.Join(root, "greet", "1.0")
	if res.Dir != dir || len(res.Written) != 3 || len(res.Skipped) != 0 {
		t.Fatalf("first publish: %+v", res)
	}
	if got := readFile(t, filepath.Join(dir, "docs/README.txt")); got != "read me\n" {
		t.Fatalf("README = %q", got)
	}
	if target, err := os.Readlink(filepath.Join(dir, "greet-latest.tar.gz")); err != nil || target != "greet-linux-amd64.tar.gz" {
		t.Fatalf("symlink = %q, %v", target, err)
	}
	wantSums := sha("read me\n") + "  docs/README.txt\n" + sha("binary") + "  greet-linux-amd64.tar.gz\n"
	if got := readFile(t, filepath.Join(dir, SumsFile)); got != wantSums {
		t.Fatalf("SHA256SUMS:\n%s\nwant:\n%s", got, wantSums)
	}
	checkSha256sum(t, dir)
	checkIndexJSON(t, dir, ref, now)

	// Again: nothing changes. Then a changed file at the destination is
	// put back, and only it.
	again, err := PublishFiles(ctx, req)
	must(t, err)
	if len(again.Written) != 0 || len(again.Skipped) != 3 {
		t.Fatalf("second publish wrote %v, skipped %v", again.Written, again.Skipped)
	}
	must(t, os.WriteFile(filepath.Join(dir, "docs/README.txt"), []byte("tampered"), 0o644))
	third, err := PublishFiles(ctx, req)
	must(t, err)
	if !slices.Equal(third.Written, []string{"docs/README.txt"}) || readFile(t, filepath.Join(dir, "docs/README.txt")) != "read me\n" {
		t.Fatalf("third publish wrote %v", third.Written)
	}
}

// checkSha256sum runs coreutils' `sha256sum -c` on the written SHA256SUMS.
func checkSha256sum(t *testing.T, dir string) {
	t.Helper()
	if _, err := exec.LookPath("sha256sum"); err != nil {
		t.Log("sha256sum not on PATH; SHA256SUMS compared as text only")
		return
	}
	cmd := exec.Command("sha256sum", "--strict", "-c", SumsFile)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sha256sum -c: %v\n%s", err, out)
	}
}

func checkIndexJSON(t *testing.T, dir, ref string, now time.Time) {
	t.Helper()
	var idx Index
	must(t, json.Unmarshal([]byte(readFile(t, filepath.Join(dir, IndexFile))), &idx))
	want := []FileEntry{{Path: "docs/README.txt", Size: 8, SHA256: sha("read me\n")},
		{Path: "greet-linux-amd64.tar.gz", Size: 6, SHA256: sha("binary")}}
	if idx.Source != ref || !strings.HasSuffix(ref, "@"+idx.Digest) || !idx.Published.Equal(now) || !slices.Equal(idx.Files, want) {
		t.Fatalf("index.json = %+v", idx)
	}
}

func TestPublishFilesRefusesEscapes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := startSource(t)
	good := pushFiles(t, src, "team/good:1", map[string]string{"docs/a.txt": "a"})
	outside := t.TempDir()
	for _, tc := range []struct {
		name     string
		artifact string
		subdir   string
		prepare  func(root string)
		want     string
	}{
		{name: "unpinned", artifact: src.ref("team/good:1"), want: "must be pinned by digest"},
		{name: "subdir with ..", artifact: good, subdir: "../evil", want: "must be a relative path inside"},
		{name: "absolute subdir", artifact: good, subdir: "/etc", want: "must be a relative path inside"},
		{name: "escaping symlink", artifact: pushFiles(t, src, "team/link:1", map[string]string{"x": "->../../etc/passwd"}),
			want: `symlink x points to "../../etc/passwd"`},
		{name: "absolute symlink", artifact: pushFiles(t, src, "team/abs:1", map[string]string{"x": "->/etc/passwd"}),
			want: "outside the destination"},
		{name: "symlink through a link", artifact: pushFiles(t, src, "team/via:1", map[string]string{"d/l": "->.", "x": "->d/l/../.."}),
			want: "symlink x points to"},
		{name: "tar entry with ..", artifact: pushTar(t, src, "team/tar:1", "../escape.txt"), want: "pulling"},
		{name: "reserved name", artifact: pushFiles(t, src, "team/sums:1", map[string]string{"SHA256SUMS": "x"}),
			want: "writes itself"},
		{name: "destination symlink out", artifact: good, subdir: "site", want: "is a symlink at the destination",
			prepare: func(root string) { writeTree(t, root, map[string]string{"site/docs": "->" + outside}) }},
	} {
		root := t.TempDir()
		if tc.prepare != nil {
			tc.prepare(root)
		}
		_, err := PublishFiles(ctx, StaticRequest{Artifact: tc.artifact, Remote: src.rem, Dir: root, Subdir: tc.subdir})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to contain %q", tc.name, err, tc.want)
		}
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Fatalf("files written outside the destination: %v", entries)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(outside), "escape.txt")); err == nil {
		t.Fatal("escape.txt written outside")
	}
}

// pushTar pushes a hand-made tar+gzip layer with one entry named name.
func pushTar(t *testing.T, r *testRegistry, repoTag, name string) string {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	must(t, tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: 1, Typeflag: tar.TypeReg}))
	_, err := tw.Write([]byte("x"))
	must(t, err)
	must(t, tw.Close())
	must(t, gz.Close())
	d, err := oci.PushArtifact(context.Background(), r.ref(repoTag),
		[]oci.Blob{{MediaType: oci.MediaTypeLayer, Data: buf.Bytes()}}, oci.PushOptions{Remote: r.rem})
	must(t, err)
	repo, _, _ := strings.Cut(repoTag, ":")
	return r.ref(repo) + "@" + d.Digest
}

// TestPublishFilesRemovesWhatAKilledPublicationLeft: temporary files of a
// publication killed mid-write, and createrepo_c's working directory, are
// gone after the next publication; an artifact may not use those names.
func TestPublishFilesRemovesWhatAKilledPublicationLeft(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := startSource(t)
	ref := pushFiles(t, src, "team/greet:1", map[string]string{"docs/README.txt": "read me\n"})
	root := t.TempDir()
	dir := filepath.Join(root, "greet")
	writeTree(t, dir, map[string]string{".kiln-tmp-ABC": "half a file", "docs/.kiln-tmp-DEF": "half",
		".repodata/repomd.xml": "half"})
	_, err := PublishFiles(ctx, StaticRequest{Artifact: ref, Remote: src.rem, Dir: root, Subdir: "greet"})
	must(t, err)
	for _, p := range []string{".kiln-tmp-ABC", "docs/.kiln-tmp-DEF", ".repodata"} {
		if _, err := os.Lstat(filepath.Join(dir, p)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s is still there after a publication (%v)", p, err)
		}
	}
	if got := readFile(t, filepath.Join(dir, "docs/README.txt")); got != "read me\n" {
		t.Fatalf("README = %q", got)
	}
	bad := pushFiles(t, src, "team/greet:2", map[string]string{"docs/.kiln-tmp-x": "mine"})
	_, err = PublishFiles(ctx, StaticRequest{Artifact: bad, Remote: src.rem, Dir: root, Subdir: "greet"})
	if err == nil || !strings.Contains(err.Error(), "temporary files") {
		t.Fatalf("publishing a file named like a temporary file: %v", err)
	}
}
