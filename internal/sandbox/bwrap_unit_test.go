package sandbox

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestNewBubblewrapMissingNamesPackage(t *testing.T) {
	t.Parallel()
	_, err := NewBubblewrap(Options{Path: "/nonexistent/bwrap"})
	if err == nil || !strings.Contains(err.Error(), "apt-get install bubblewrap") {
		t.Fatalf("want an error naming the bubblewrap package, got %v", err)
	}
}

func TestEnvArgs(t *testing.T) {
	t.Parallel()
	got, err := envArgs([]string{"A=1", "EMPTY=", "HOME=/home/build"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"--clearenv", "--setenv", "A", "1", "--setenv", "EMPTY", "",
		"--setenv", "HOME", "/home/build", "--setenv", "PATH", defaultPath}
	if !slices.Equal(got, want) {
		t.Fatalf("envArgs = %q, want %q", got, want)
	}
	for _, bad := range []string{"NOVALUE", "=x"} {
		if _, err := envArgs([]string{bad}); err == nil {
			t.Errorf("envArgs(%q): want an error", bad)
		}
	}
}

func TestNamespaceArgs(t *testing.T) {
	t.Parallel()
	b := &Bubblewrap{opts: Options{UID: 1000, GID: 1000}}
	args := b.namespaceArgs()
	for _, f := range []string{"--unshare-user", "--disable-userns", "--unshare-pid", "--as-pid-1",
		"--unshare-ipc", "--unshare-uts", "--unshare-cgroup", "--unshare-net",
		"--die-with-parent", "--new-session"} {
		if !slices.Contains(args, f) {
			t.Errorf("namespace arguments lack %s: %q", f, args)
		}
	}
	if i := slices.Index(args, "--cap-drop"); i < 0 || args[i+1] != "ALL" {
		t.Errorf("capabilities not dropped: %q", args)
	}
}

func TestHostRootExposesOnlySystemDirs(t *testing.T) {
	t.Parallel()
	args, err := hostRootArgs()
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(args); i += 3 {
		dst := args[i+2]
		ok := slices.Contains(hostRootDirs, dst) || strings.HasPrefix(dst, "/etc/")
		if !ok || slices.Contains([]string{"/", "/etc", "/etc/ssl", "/etc/shadow"}, dst) {
			t.Errorf("host root exposes %s (%s %s)", dst, args[i], args[i+1])
		}
	}
	if !slices.Contains(args, "/usr") {
		t.Fatalf("host root lacks /usr: %q", args)
	}
}

func TestMountChecks(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	keys := filepath.Join(data, "keys")
	ws := t.TempDir()
	if err := os.Mkdir(keys, 0o700); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(ws, "link-to-keys")
	if err := os.Symlink(keys, link); err != nil {
		t.Fatal(err)
	}
	b := &Bubblewrap{protected: []string{data}}
	self := hostUser{uid: os.Geteuid(), gid: os.Getegid()}
	for _, m := range []Mount{
		{Source: data, Target: "/x"}, {Source: keys, Target: "/x"}, {Source: filepath.Dir(data), Target: "/x"},
		{Source: link, Target: "/x"}, {Source: "relative", Target: "/x"}, {Source: ws, Target: "x"},
		{Source: ws, Target: "/"}, {Source: "/nonexistent/kiln", Target: "/x"},
		{Source: ws, Target: "/proc/sys"}, {Source: ws, Target: "/sys"}, {Source: ws, Target: "/dev/x"},
		{Source: "/proc", Target: "/x"}, {Source: "/sys/kernel", Target: "/x"}, {Source: "/dev/shm", Target: "/x"},
		{Source: "/sys/fs/cgroup/memory", Target: "/x"},
	} {
		if _, err := b.stageSources(&Step{Mounts: []Mount{m}}, self); err == nil {
			t.Errorf("mount %s -> %s: want an error", m.Source, m.Target)
		}
	}
	step := Step{Mounts: []Mount{{Source: ws + "/", Target: "/workspace/", Writable: true}, {Source: ws, Target: "/in"}}}
	if _, err := b.stageSources(&step, self); err != nil {
		t.Fatal(err)
	}
	want := []Mount{{Source: ws, Target: "/workspace", Writable: true}, {Source: ws, Target: "/in"}}
	if !slices.Equal(step.Mounts, want) {
		t.Fatalf("checked mounts %+v, want %+v", step.Mounts, want)
	}
}

// TestWritableMountNotTheUsers: a writable mount the step's host user
// cannot write is refused before the step runs.
func TestWritableMountNotTheUsers(t *testing.T) {
	t.Parallel()
	ws := t.TempDir()
	b := &Bubblewrap{}
	user := hostUser{uid: 2_000_000_000, gid: 2_000_000_000, pooled: true}
	_, err := b.stageSources(&Step{Mounts: []Mount{{Source: ws, Target: "/workspace", Writable: true}}}, user)
	if err == nil || !strings.Contains(err.Error(), "Lease.Own") {
		t.Fatalf("want an error saying to give the directory to the lease, got %v", err)
	}
	if _, err := b.stageSources(&Step{Mounts: []Mount{{Source: ws, Target: "/in"}}}, user); err != nil {
		t.Fatalf("a read-only mount needs no ownership: %v", err)
	}
}

func TestProtectedUnderHostRootRefused(t *testing.T) {
	t.Parallel()
	for _, p := range []string{"/usr/local/kiln", "/etc/ssl/certs/kiln", "/bin/kiln"} {
		clean, err := cleanPaths([]string{p})
		if err != nil {
			t.Fatal(err)
		}
		if err := checkProtected(clean); err == nil {
			t.Errorf("protected %s is visible to every step: want an error", p)
		}
	}
	if err := checkProtected([]string{"/var/lib/kiln"}); err != nil {
		t.Fatal(err)
	}
	if _, err := cleanPaths([]string{"relative"}); err == nil {
		t.Fatal("a relative protected path: want an error")
	}
}

func TestWithin(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		path, dir string
		want      bool
	}{
		{"/a/b", "/a", true}, {"/a", "/a", true}, {"/ab", "/a", false},
		{"/a", "/a/b", false}, {"/", "/a", false}, {"/a/..b", "/a", true},
	} {
		if got := within(c.path, c.dir); got != c.want {
			t.Errorf("within(%s, %s) = %v", c.path, c.dir, got)
		}
	}
}

func TestParseCgroups(t *testing.T) {
	t.Parallel()
	own, err := parseOwnCgroups(strings.NewReader(
		"9:name=systemd:/\n8:pids:/\n4:memory:/process_api/abc\n2:cpu,cpuacct:/x\n0::/\n"))
	if err != nil || own["memory"] != "/process_api/abc" || own["pids"] != "/" || own["cpuacct"] != "/x" {
		t.Fatalf("own cgroups %v, %v", own, err)
	}
	mounts, err := parseCgroupMounts(strings.NewReader(
		"35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n" +
			"39 31 0:36 /kiln-ns /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n" +
			"41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"))
	if err != nil || mounts["memory"].point != "/sys/fs/cgroup/memory" || mounts["pids"].root != "/kiln-ns" {
		t.Fatalf("cgroup mounts %v, %v", mounts, err)
	}
	dir, err := parentDir("memory", own, mounts, "")
	if err != nil || dir != "/sys/fs/cgroup/memory/process_api/abc/kiln" {
		t.Fatalf("memory parent %q, %v", dir, err)
	}
	dir, err = parentDir("pids", own, mounts, "/kiln-ns/steps")
	if err != nil || dir != "/sys/fs/cgroup/pids/steps" {
		t.Fatalf("pids parent %q, %v", dir, err)
	}
	if _, err := parentDir("pids", own, mounts, "/elsewhere"); err == nil {
		t.Fatal("a parent outside the mounted cgroup: want an error")
	}
	if _, err := parentDir("cpuset", own, mounts, ""); err == nil {
		t.Fatal("an unmounted controller: want an error")
	}
}

// TestOutputLimitWriter: the limit is shared by stdout and stderr written
// concurrently, exactly limit bytes are kept, and exceeded fires once.
func TestOutputLimitWriter(t *testing.T) {
	t.Parallel()
	var fired int
	var mu sync.Mutex
	o := &output{limit: 1000, exceeded: func() { mu.Lock(); fired++; mu.Unlock() }}
	var a, b counter
	stdout, stderr := o.writers(&a, &b)
	var wg sync.WaitGroup
	for _, w := range []io.Writer{stdout, stderr} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				if n, err := w.Write(make([]byte, 7)); n != 7 || err != nil {
					t.Errorf("Write = %d, %v", n, err)
				}
			}
		}()
	}
	wg.Wait()
	if a.n+b.n != 1000 || fired != 1 {
		t.Fatalf("kept %d+%d bytes, exceeded fired %d times", a.n, b.n, fired)
	}
	same := &counter{}
	w1, w2 := o.writers(same, same)
	if w1 != w2 {
		t.Fatal("one writer for stdout and stderr must stay one writer")
	}
}

type counter struct {
	mu sync.Mutex
	n  int
}

func (c *counter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n += len(p)
	return len(p), nil
}

func TestCopyError(t *testing.T) {
	t.Parallel()
	if copyError(nil) != nil || copyError(&exec.ExitError{}) != nil || copyError(exec.ErrWaitDelay) != nil {
		t.Fatal("the step's own exit is not a copy error")
	}
	if !errors.Is(copyError(io.ErrShortWrite), io.ErrShortWrite) {
		t.Fatal("copyError must wrap the copy error")
	}
}

// TestStepCgroupsRemoved: after steps that end normally, by timeout and by
// the OOM killer, no per-step cgroup is left behind. Not parallel: it checks
// that no step of this process has a cgroup.
func TestStepCgroupsRemoved(t *testing.T) {
	if _, err := exec.LookPath("bwrap"); err != nil {
		t.Skip("bwrap is not installed")
	}
	b, err := NewBubblewrap(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.cgroups == nil {
		t.Skipf("cgroups not in force: %s", b.Enforcement().Note)
	}
	for _, step := range []Step{
		{Command: []string{"true"}},
		{Command: []string{"sleep", "60"}, Limits: Limits{WallTime: 200 * time.Millisecond}},
		{Command: []string{"sh", "-c", "x=$(head -c 200000000 /dev/zero | tr '\\0' a)"}, Limits: Limits{Memory: 32 << 20}},
	} {
		if res, err := b.Run(context.Background(), step); err != nil {
			t.Fatalf("%q: %+v, %v", step.Command, res, err)
		}
	}
	for _, parent := range []string{b.cgroups.memory, b.cgroups.pids} {
		entries, err := os.ReadDir(parent)
		if err != nil {
			t.Fatal(err)
		}
		prefix := strconv.Itoa(os.Getpid()) + "-"
		for _, e := range entries {
			if e.IsDir() && strings.HasPrefix(e.Name(), prefix) {
				t.Errorf("step cgroup %s left behind", filepath.Join(parent, e.Name()))
			}
		}
	}
}
