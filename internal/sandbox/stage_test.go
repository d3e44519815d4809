package sandbox

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestStageBindsTheOpenedDescriptor: a source is staged from the very
// descriptor its checks ran on. A step running in parallel that swaps a
// link into the source's path after the checks (here: from inside the
// check) does not change what is mounted.
func TestStageBindsTheOpenedDescriptor(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("sources are staged only as root")
	}
	s, err := newStage(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.close() })
	ws, outside := t.TempDir(), t.TempDir()
	sub := filepath.Join(ws, "sub")
	writeTestFile(t, filepath.Join(sub, "in.txt"), "inside")
	writeTestFile(t, filepath.Join(outside, "private.txt"), "host private")
	swap := func(*os.File) error {
		if err := os.Rename(sub, sub+".moved"); err != nil {
			return err
		}
		return os.Symlink(outside, sub)
	}
	st, err := s.bind([]source{{path: sub, within: ws, check: swap}})
	if err != nil {
		t.Fatal(err)
	}
	defer st.remove()
	var got []byte
	onSpawner(func() { got, err = os.ReadFile(filepath.Join(st.at[0], "in.txt")) }) // the stage is only in the spawner's namespace
	if err != nil || string(got) != "inside" {
		t.Fatalf("staged source holds %q (%v), want the directory that was opened and checked", got, err)
	}
	if fi, err := os.Lstat(sub); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the swap did not happen: %v", err)
	}
}

func writeTestFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestMountsByDescriptorWithoutStage: without a stage (a server that is
// not root), a Mount's source is passed to bwrap as the descriptor opened
// and checked here (--bind-fd), which bwrap closes before the step runs.
func TestMountsByDescriptorWithoutStage(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("bwrap"); err != nil {
		if os.Getenv("KILN_REQUIRE_SANDBOX") != "" || os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	b, err := NewBubblewrap(Options{})
	if err != nil {
		t.Fatal(err)
	}
	staging := b.stage
	b.stage = nil
	t.Cleanup(func() { b.stage = staging; _ = b.Close() })
	ws := t.TempDir()
	writeTestFile(t, filepath.Join(ws, "sub", "in.txt"), "inside\n")
	var out strings.Builder
	res, err := b.run(context.Background(), Step{
		Command: []string{"sh", "-c", "cat /w/in.txt; echo ok > /w/new.txt; ls /proc/self/fd"},
		Mounts:  []Mount{{Source: filepath.Join(ws, "sub"), Target: "/w", Writable: true, Within: ws}},
		Stdout:  &out, Stderr: &out,
	}, hostUser{uid: os.Geteuid(), gid: os.Getegid()})
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("step: %+v %v: %s", res, err, out.String())
	}
	if got := strings.Fields(out.String()); !slices.Equal(got, []string{"inside", "0", "1", "2", "3"}) {
		t.Fatalf("step printed %q, want the mounted file and descriptors 0-3 only", got)
	}
	if b, err := os.ReadFile(filepath.Join(ws, "sub", "new.txt")); err != nil || string(b) != "ok\n" {
		t.Fatalf("write through the mount: %q %v", b, err)
	}
}
