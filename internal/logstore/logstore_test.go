package logstore

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kilnbuild/kiln/api/v1alpha1"
)

func open(t *testing.T) (*Store, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "logs")
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s, dir
}

func appendTo(t *testing.T, s *Store, k Key, text string) {
	t.Helper()
	l, err := s.Append(k)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Write([]byte(text)); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, s *Store, k Key) string {
	t.Helper()
	f, err := s.Open(k)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestOneLayoutOneMode: every kind's log lives under its namespace, 0600
// under 0700 directories, and every attempt appends.
func TestOneLayoutOneMode(t *testing.T) {
	t.Parallel()
	s, dir := open(t)
	keys := map[string]Key{
		"team/Build/b1.log":           {Kind: Build, Namespace: "team", Name: "b1"},
		"team/Snapshot/s1/smoke.log":  {Kind: Snapshot, Namespace: "team", Name: "s1", Part: "smoke"},
		"team/Release/r1.log":         {Kind: Release, Namespace: "team", Name: "r1"},
		"tests/Snapshot/s1/unit.log":  {Kind: Snapshot, Namespace: "tests", Name: "s1", Part: "../../unit"},
		"releases/Release/r.log":      {Kind: Release, Namespace: "releases", Name: "r"},
		"releases/Build/releases.log": {Kind: Build, Namespace: "releases", Name: "releases"},
		"team/Build/" + fitted(253):   {Kind: Build, Namespace: "team", Name: longName(253)},
		"team/Snapshot/" + v1alpha1.FileName(longName(253), "") + "/" + fitted(253): {Kind: Snapshot, Namespace: "team", Name: longName(253), Part: longName(253)},
	}
	for want, k := range keys {
		appendTo(t, s, k, "attempt 1\n")
		appendTo(t, s, k, "attempt 2\n")
		p, err := s.Path(k)
		if err != nil || p != filepath.Join(dir, want) {
			t.Errorf("Path(%s) = %s, %v; want %s", k, p, err, filepath.Join(dir, want))
		}
		if got := read(t, s, k); got != "attempt 1\nattempt 2\n" {
			t.Errorf("log of %s = %q", k, got)
		}
	}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, _ := d.Info()
		if want := map[bool]fs.FileMode{true: dirMode, false: fileMode}[d.IsDir()]; fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode().Perm(), want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func longName(n int) string { return strings.Repeat("b", n) }

// fitted is the file name of a build log named longName(n): shortened to
// what the file system takes.
func fitted(n int) string {
	name := v1alpha1.FileName(longName(n), ".log")
	if len(name) > 255 || len(name) < 200 {
		panic("unexpected file name length")
	}
	return name
}

func TestBadKeysAreRefused(t *testing.T) {
	t.Parallel()
	s, _ := open(t)
	for _, k := range []Key{
		{Kind: "Component", Namespace: "team", Name: "c"},
		{Kind: Build, Namespace: "", Name: "b"},
		{Kind: Build, Namespace: "..", Name: "b"},
		{Kind: Build, Namespace: "team", Name: "../b"},
		{Kind: Snapshot, Namespace: "team", Name: "s1"},
	} {
		if _, err := s.Append(k); err == nil {
			t.Errorf("Append(%+v) succeeded", k)
		}
	}
	if _, err := s.Open(Key{Kind: Build, Namespace: "team", Name: "none"}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open of a log never written: %v, want ErrNotExist", err)
	}
}

// TestWriteErrorsAreReported: output that could not be written is an
// error of Err and Close, naming the log.
func TestWriteErrorsAreReported(t *testing.T) {
	t.Parallel()
	f, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skip("no /dev/full:", err)
	}
	l := &Log{f: f, key: Key{Kind: Build, Namespace: "team", Name: "b1"}}
	if _, err := l.Write([]byte("lost")); err == nil {
		t.Fatal("a write to a full disk succeeded")
	}
	_, _ = l.Write([]byte("also lost"))
	for _, err := range []error{l.Err(), l.Close()} {
		if err == nil || !strings.Contains(err.Error(), "writing the log of Build team/b1") || !strings.Contains(err.Error(), "no space left") {
			t.Errorf("error %v; want the first write error, naming the log", err)
		}
	}
}

// TestPurgeNamespaceIsExact: every log of the namespace goes, whatever its
// kind; namespaces whose names share a prefix, or are named like the
// earlier layout's directories, keep theirs.
func TestPurgeNamespaceIsExact(t *testing.T) {
	t.Parallel()
	s, _ := open(t)
	for _, ns := range []string{"team-a", "team-a-b", "tests", "releases"} {
		appendTo(t, s, Key{Kind: Build, Namespace: ns, Name: "b1"}, "x")
		appendTo(t, s, Key{Kind: Snapshot, Namespace: ns, Name: "s1", Part: "smoke"}, "x")
		appendTo(t, s, Key{Kind: Release, Namespace: ns, Name: "r1"}, "x")
	}
	for range 2 { // idempotent
		for _, ns := range []string{"team-a", "tests"} {
			if err := s.PurgeNamespace(t.Context(), ns); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, ns := range []string{"team-a", "team-a-b", "tests", "releases"} {
		_, err := s.Open(Key{Kind: Snapshot, Namespace: ns, Name: "s1", Part: "smoke"})
		if gone := errors.Is(err, fs.ErrNotExist); gone != (ns == "team-a" || ns == "tests") {
			t.Errorf("namespace %s: test log gone %v (%v)", ns, gone, err)
		}
	}
	if err := s.PurgeNamespace(t.Context(), ".."); err == nil {
		t.Error("purged namespace ..")
	}
}
