package sandboxtest

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/kilnbuild/kiln/internal/sandbox"
)

// testRootReadOnly: nothing of the root filesystem is writable (not /, not
// /bin, not /usr); /tmp is.
func testRootReadOnly(t *testing.T, s suite) {
	for _, p := range []string{"/kiln-probe", "/bin/kiln-probe", "/usr/kiln-probe", "/etc/kiln-probe"} {
		mustFail(t, "writing "+p, s.sh(t, "echo x > "+p))
		if s.env.RootFS == "" {
			if _, err := os.Lstat(p); err == nil {
				t.Fatalf("%s appeared on the host", p)
			}
		}
	}
	mustFail(t, "creating a directory in /", s.sh(t, "mkdir /kiln-probe-dir"))
	mustSucceed(t, "writing /tmp", s.sh(t, "echo x > /tmp/kiln-probe && test -s /tmp/kiln-probe"))
}

// testFreshTmp: /tmp starts empty, is not the host's, and is not shared
// between steps.
func testFreshTmp(t *testing.T, s suite) {
	marker, err := os.CreateTemp("", "kiln-host-tmp-")
	if err != nil {
		t.Fatal(err)
	}
	marker.Close()
	t.Cleanup(func() { os.Remove(marker.Name()) })
	o := s.sh(t, "ls -A /tmp; echo step1 > /tmp/left-behind")
	mustSucceed(t, "ls /tmp", o)
	if strings.TrimSpace(o.Stdout) != "" {
		t.Fatalf("/tmp is not empty at start: %q", o.Stdout)
	}
	mustFail(t, "seeing the host's /tmp", s.sh(t, "test -e /tmp/"+filepath.Base(marker.Name())))
	mustFail(t, "seeing an earlier step's /tmp", s.sh(t, "test -e /tmp/left-behind"))
}

// testHostDirsHidden: the host's home directories, state, the server's
// working directory and the like are not visible at all.
func testHostDirsHidden(t *testing.T, s suite) {
	candidates := []string{"/root", "/home", "/var", "/srv", "/mnt", "/opt", "/run", "/work", "/boot"}
	if wd, err := os.Getwd(); err == nil {
		candidates = append(candidates, wd)
	}
	if home, err := os.UserHomeDir(); err == nil {
		candidates = append(candidates, home)
	}
	checked := 0
	for _, p := range candidates {
		if _, err := os.Stat(p); err != nil {
			continue // nothing to hide
		}
		checked++
		mustFail(t, "seeing the host's "+p, s.sh(t, "test -e "+shellQuote(p)))
	}
	if checked == 0 {
		t.Fatal("none of the host directories to hide exists; the test proves nothing")
	}
	mustSucceed(t, "seeing /bin/sh", s.sh(t, "test -x /bin/sh"))
}

// testDataDirHidden: a directory standing for the server's data dir (its
// database and keys) cannot be read, by path or by searching.
func testDataDirHidden(t *testing.T, s suite) {
	data := s.env.NewDir(t)
	writeFile(t, filepath.Join(data, "kiln.db"), "database")
	writeFile(t, filepath.Join(data, "keys", "secret.key"), "private key")
	ws := s.env.NewDir(t)
	writeFile(t, filepath.Join(ws, "main.c"), "int main;")
	m := sandbox.Mount{Source: ws, Target: "/workspace", Writable: true}
	mustSucceed(t, "reading the workspace", s.sh(t, "cat /workspace/main.c", m))
	for _, p := range []string{filepath.Join(data, "kiln.db"), filepath.Join(data, "keys", "secret.key")} {
		o := s.sh(t, "cat "+shellQuote(p), m)
		mustFail(t, "reading "+p, o)
		if strings.Contains(o.Stdout, "database") || strings.Contains(o.Stdout, "private key") {
			t.Fatalf("read the server's data: %s", o)
		}
	}
	assertNotFound(t, s, "secret.key", "main.c", m)
	assertNotFound(t, s, "kiln.db", "main.c", m)
}

// testOtherWorkspaceHidden: a step sees its own workspace, not another
// build's.
func testOtherWorkspaceHidden(t *testing.T, s suite) {
	mine, other := s.env.NewDir(t), s.env.NewDir(t)
	writeFile(t, filepath.Join(mine, "mine.txt"), "mine")
	writeFile(t, filepath.Join(other, "other-build.txt"), "other")
	m := sandbox.Mount{Source: mine, Target: "/workspace", Writable: true}
	o := s.sh(t, "cat /workspace/mine.txt", m)
	if o.Stdout != "mine" {
		t.Fatalf("reading its own workspace: %s", o)
	}
	mustFail(t, "reading another workspace", s.sh(t, "cat "+shellQuote(filepath.Join(other, "other-build.txt")), m))
	assertNotFound(t, s, "other-build.txt", "mine.txt", m)
}

// assertNotFound searches the sandbox for a file name, after checking that
// the same search finds the workspace's canary file.
func assertNotFound(t *testing.T, s suite, name, canary string, mounts ...sandbox.Mount) {
	t.Helper()
	if got := s.find(t, canary, mounts...); got != "/workspace/"+canary {
		t.Fatalf("searching for the workspace's %s found %q", canary, got)
	}
	if got := s.find(t, name, mounts...); got != "" {
		t.Fatalf("found %s in the sandbox: %s", name, got)
	}
}

// find searches everywhere but /proc and the (large, read-only, system) /usr.
func (s suite) find(t *testing.T, name string, mounts ...sandbox.Mount) string {
	t.Helper()
	o := s.sh(t, "find / \\( -path /proc -o -path /usr \\) -prune -o -name "+shellQuote(name)+
		" -print 2>/dev/null; true", mounts...)
	return strings.TrimSpace(o.Stdout)
}

// testMountModes: a read-only mount can be read but not written, a writable
// one can be written and the host sees the result.
func testMountModes(t *testing.T, s suite) {
	in, ws := s.env.NewDir(t), s.env.NewDir(t)
	writeFile(t, filepath.Join(in, "input.txt"), "input")
	mounts := []sandbox.Mount{{Source: in, Target: "/in"}, {Source: ws, Target: "/workspace", Writable: true}}
	o := s.sh(t, "cat /in/input.txt > /workspace/copy.txt", mounts...)
	mustSucceed(t, "copying input to the workspace", o)
	if b, err := os.ReadFile(filepath.Join(ws, "copy.txt")); err != nil || string(b) != "input" {
		t.Fatalf("workspace copy.txt = %q, %v", b, err)
	}
	mustFail(t, "writing a read-only mount", s.sh(t, "echo x > /in/input.txt", mounts...))
	mustFail(t, "creating in a read-only mount", s.sh(t, "echo x > /in/new.txt", mounts...))
	if b, _ := os.ReadFile(filepath.Join(in, "input.txt")); string(b) != "input" {
		t.Fatalf("read-only input changed to %q", b)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// testMountWithin: a mount with Within is reached inside that directory
// through real directories only: a symbolic link (a step could plant one
// in a workspace), leading out or not, is refused rather than mounted, and
// what it leads to is neither written nor given to the step's user; a
// real sub-directory is mounted (writes land in it), and the step holds
// no descriptor of it.
func testMountWithin(t *testing.T, s suite) {
	ws, outside := s.env.NewDir(t), s.env.NewDir(t)
	writeFile(t, filepath.Join(outside, "private.txt"), "host private")
	writeFile(t, filepath.Join(ws, "sub", "in.txt"), "inside")
	sameOwner(t, filepath.Join(ws, "sub"), ws)
	owner := ownerOf(t, outside)
	links := map[string]string{"out": outside, "chain": "out", "up": "sub/../../" + filepath.Base(outside), "inside": "sub"}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(ws, name)); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"out", "chain", "out/x", "up", "inside"} {
		m := sandbox.Mount{Source: filepath.Join(ws, name), Target: "/workspace", Writable: true, Within: ws}
		o, err := s.try(t, sandbox.Step{Command: []string{"sh", "-c", "cat /workspace/*; echo planted > /workspace/written"}, Mounts: []sandbox.Mount{m}})
		if err == nil || strings.Contains(o.Stdout, "host private") {
			t.Errorf("mount of %s leaving %s: %v, %s", name, ws, err, o)
		}
	}
	_, err := os.Stat(filepath.Join(outside, "written"))
	if err == nil || ownerOf(t, outside) != owner {
		t.Fatalf("a step wrote (%v) or was given (owner %d, was %d) a directory through a link out of its workspace",
			err == nil, ownerOf(t, outside), owner)
	}
	if _, err := os.Stat(filepath.Join(ws, "sub", "written")); err == nil {
		t.Fatal("a step wrote through a link inside its workspace")
	}
	m := sandbox.Mount{Source: filepath.Join(ws, "sub"), Target: "/workspace", Writable: true, Within: ws}
	o := s.sh(t, "cat /workspace/in.txt; echo ok > /workspace/new.txt; ls /proc/self/fd", m)
	mustSucceed(t, "mounting a sub-directory within", o)
	if !strings.HasPrefix(o.Stdout, "inside") {
		t.Fatalf("the mount is not the sub-directory: %s", o)
	}
	if b, err := os.ReadFile(filepath.Join(ws, "sub", "new.txt")); err != nil || string(b) != "ok\n" {
		t.Fatalf("write through the mount: %q %v", b, err)
	}
	for _, n := range strings.Fields(strings.TrimPrefix(o.Stdout, "inside")) {
		if n != "0" && n != "1" && n != "2" && n != "3" {
			t.Errorf("descriptor %s is open in the step", n)
		}
	}
}

// sameOwner gives p the owner of like (the sandbox may run as its owner).
func sameOwner(t *testing.T, p, like string) {
	t.Helper()
	fi, err := os.Stat(like)
	if err != nil {
		t.Fatal(err)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		if err := os.Chown(p, int(st.Uid), int(st.Gid)); err != nil && os.Geteuid() == 0 {
			t.Fatal(err)
		}
	}
}
