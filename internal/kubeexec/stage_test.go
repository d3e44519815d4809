package kubeexec

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kilnbuild/kiln/internal/sandbox"
)

// TestPackUnpackRoundTrip: a mount's files, directories and links go into
// the Pod and come back as they were; a read-only mount is not written.
func TestPackUnpackRoundTrip(t *testing.T) {
	src, ro := t.TempDir(), t.TempDir()
	mustWrite(t, filepath.Join(src, "a/b.txt"), "hello", 0o640)
	if err := os.Symlink("a/b.txt", filepath.Join(src, "link")); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, filepath.Join(ro, "keep.txt"), "ro", 0o644)
	mounts := []sandbox.Mount{{Source: src, Target: "/w", Writable: true}, {Source: ro, Target: "/r"}}
	var buf bytes.Buffer
	if err := packMounts(&buf, mounts[:1]); err != nil { // the stage-out container sends the writable ones
		t.Fatal(err)
	}
	mustWrite(t, filepath.Join(src, "stale.txt"), "gone after unpacking", 0o644)
	if err := unpackMounts(bytes.NewReader(buf.Bytes()), mounts, 1<<20); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(src, "a/b.txt")); err != nil || string(b) != "hello" {
		t.Fatalf("a/b.txt: %q %v", b, err)
	}
	if l, err := os.Readlink(filepath.Join(src, "link")); err != nil || l != "a/b.txt" {
		t.Fatalf("link: %q %v", l, err)
	}
	if _, err := os.Stat(filepath.Join(src, "stale.txt")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("a file the pod did not send back is still there")
	}
	if fi, _ := os.Stat(filepath.Join(src, "a/b.txt")); fi.Mode().Perm() != 0o640 {
		t.Fatalf("mode %v, want 0640", fi.Mode().Perm())
	}
}

// TestUnpackRefusesEscapes: the archive comes from the steps; no entry may
// write outside the writable mount it names, whatever path or link leads
// there, nor into a read-only mount; setuid bits are dropped.
func TestUnpackRefusesEscapes(t *testing.T) {
	cases := map[string][]entry{
		"dot-dot":             {{name: "m0/../../escaped", body: "x"}},
		"absolute":            {{name: "/m0/x", body: "x"}, {name: "/etc/escaped", body: "x"}},
		"through a link":      {{name: "m0/out", link: "OUTSIDE"}, {name: "m0/out/escaped", body: "x"}},
		"read-only mount":     {{name: "m1/escaped", body: "x"}},
		"unknown mount":       {{name: "m9/escaped", body: "x"}},
		"link then overwrite": {{name: "m0/f", link: "OUTSIDE/escaped"}, {name: "m0/f", body: "x"}},
	}
	for name, entries := range cases {
		t.Run(name, func(t *testing.T) {
			w, ro, outside := t.TempDir(), t.TempDir(), t.TempDir()
			for i := range entries {
				entries[i].link = strings.ReplaceAll(entries[i].link, "OUTSIDE", outside)
			}
			mounts := []sandbox.Mount{{Source: w, Target: "/w", Writable: true}, {Source: ro, Target: "/r"}}
			err := unpackMounts(bytes.NewReader(tarOf(t, entries)), mounts, 1<<20)
			if err == nil {
				t.Errorf("unpacking %v succeeded", entries)
			}
			for _, dir := range []string{outside, ro, filepath.Dir(w)} {
				if _, err := os.Stat(filepath.Join(dir, "escaped")); err == nil {
					t.Fatalf("an entry was written to %s", dir)
				}
			}
		})
	}
}

func TestUnpackDropsSetuidAndBoundsSize(t *testing.T) {
	w := t.TempDir()
	mounts := []sandbox.Mount{{Source: w, Target: "/w", Writable: true}}
	data := tarOf(t, []entry{{name: "m0/suid", body: "x", mode: 0o4755}})
	if err := unpackMounts(bytes.NewReader(data), mounts, 1<<20); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(filepath.Join(w, "suid")); fi.Mode()&fs.ModeSetuid != 0 {
		t.Fatal("setuid kept")
	}
	big := tarOf(t, []entry{{name: "m0/big", body: strings.Repeat("x", 1<<16)}})
	if err := unpackMounts(bytes.NewReader(big), mounts, 1<<10); err == nil {
		t.Fatal("an archive over the transfer limit was accepted")
	}
}

type entry struct {
	name, body, link string
	mode             int64
}

func tarOf(t *testing.T, entries []entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: 0o644, Typeflag: tar.TypeReg, Size: int64(len(e.body))}
		if e.mode != 0 {
			h.Mode = e.mode
		}
		if e.link != "" {
			h.Typeflag, h.Linkname, h.Size = tar.TypeSymlink, e.link, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		_, _ = io.WriteString(tw, e.body)
	}
	_ = tw.Close()
	return buf.Bytes()
}

func mustWrite(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(path, mode)
}

// TestProtectedPathsNeverLeave: a mount at, inside or around a protected
// path (the data directory, the signing key) is refused before any Pod is
// made, also when reached through a link.
func TestProtectedPathsNeverLeave(t *testing.T) {
	data := t.TempDir()
	key := filepath.Join(data, "signing")
	mustWrite(t, filepath.Join(key, "cosign.key"), "secret", 0o600)
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(key, link); err != nil {
		t.Fatal(err)
	}
	for _, src := range []string{key, data, filepath.Dir(data), link} {
		err := checkProtected([]sandbox.Mount{{Source: src, Target: "/w"}}, []string{key})
		if err == nil {
			t.Errorf("mount of %s accepted", src)
		}
	}
	if err := checkProtected([]sandbox.Mount{{Source: t.TempDir(), Target: "/w"}}, []string{key}); err != nil {
		t.Errorf("an unrelated mount: %v", err)
	}
}

// TestPodSpecHoldsNoEnvironmentValue: the steps' variables (resolved Kiln
// secrets among them) are read from the Pod's Secret, not written in the
// Pod's spec, which anyone who can list Pods reads.
func TestPodSpecHoldsNoEnvironmentValue(t *testing.T) {
	p := &podRun{r: &Runner{opts: Options{HelperImage: "h@sha256:x"}}, name: "kiln-task-x", env: "kiln-task-x-env",
		steps: []sandbox.Step{{Image: "i@sha256:y", Command: []string{"true"}, Env: []string{"TOKEN=s3cret", "A=b=c"}}}}
	spec, err := json.Marshal(p.pod())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(spec), "s3cret") || strings.Contains(string(spec), "b=c") {
		t.Fatalf("the pod spec holds an environment value: %s", spec)
	}
	if !strings.Contains(string(spec), `"secretKeyRef":{"name":"kiln-task-x-env","key":"step-0-1"}`) {
		t.Fatalf("no secretKeyRef in %s", spec)
	}
}
