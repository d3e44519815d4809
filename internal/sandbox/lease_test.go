package sandbox_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kilnbuild/kiln/internal/sandbox"
)

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("leases of dedicated host users need root")
	}
}

// TestConcurrentLeasesDistinctHostUsers: two runs at once get two host
// users from the range, neither root nor an account; each run's steps all
// run as its user (seen from the host in /proc/<pid>/status); a released
// user owns nothing any more.
func TestConcurrentLeasesDistinctHostUsers(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	r := newRunner(t, sandbox.Options{})
	leases := []sandbox.Lease{newLease(t, r), newLease(t, r)}
	uids := map[int]bool{}
	for _, l := range leases {
		uid, gid := l.HostUser()
		first := sandbox.DefaultHostIDs.First
		if uid == 0 || uid != gid || uid < first || uid > sandbox.DefaultHostIDs.Last() {
			t.Fatalf("lease host user %d:%d, want a uid and gid from %s", uid, gid, sandbox.DefaultHostIDs)
		}
		uids[uid] = true
	}
	if len(uids) != 2 {
		t.Fatalf("two concurrent leases share host user %v", uids)
	}
	var wg sync.WaitGroup
	for i, l := range leases {
		for step := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				want, _ := l.HostUser()
				if got := stepHostUID(t, l, fmt.Sprintf("%d%d%d", 4000000+i, step, time.Now().UnixNano()%1000)); got != want {
					t.Errorf("lease %d, step %d ran as host uid %d, want %d", i, step, got, want)
				}
			}()
		}
	}
	wg.Wait()
}

// stepHostUID runs `sleep marker` through r and returns the host uid of
// its process (all four uids of /proc/<pid>/status must agree).
func stepHostUID(t *testing.T, r sandbox.Runner, marker string) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := r.Run(ctx, sandbox.Step{Command: []string{"sleep", marker}})
		done <- err
	}()
	defer func() { cancel(); <-done }()
	want := "sleep\x00" + marker + "\x00"
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			if b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline"); err == nil && string(b) == want {
				return statusUID(t, e.Name())
			}
		}
	}
	t.Errorf("no host process for step sleep %s", marker)
	return -1
}

func statusUID(t *testing.T, pid string) int {
	f, err := os.Open("/proc/" + pid + "/status")
	if err != nil {
		t.Error(err)
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Uid:"); ok {
			ids := strings.Fields(v)
			for _, id := range ids[1:] {
				if id != ids[0] {
					t.Errorf("process %s has uids %v", pid, ids)
				}
			}
			n, _ := strconv.Atoi(ids[0])
			return n
		}
	}
	return -1
}

// TestLeaseOwnAndRelease: Own gives the lease's user the server's files
// (not symlink targets, not multiply-linked files, not other users'
// files); its steps write there; Release gives everything back, the
// step's new files included.
func TestLeaseOwnAndRelease(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	r := newRunner(t, sandbox.Options{})
	l, err := r.Lease()
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := l.HostUser()
	ws, outside := t.TempDir(), t.TempDir()
	mustWrite(t, filepath.Join(ws, "src", "main.c"), "int main;")
	mustWrite(t, filepath.Join(outside, "secret"), "secret")
	mustWrite(t, filepath.Join(outside, "linked"), "linked")
	if err := os.Symlink(filepath.Join(outside, "secret"), filepath.Join(ws, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(outside, "linked"), filepath.Join(ws, "hardlink")); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, filepath.Join(ws, "nobodys"), "x")
	if err := os.Chown(filepath.Join(ws, "nobodys"), 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if err := l.Own(ws); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]int{ws: uid, filepath.Join(ws, "src", "main.c"): uid,
		filepath.Join(outside, "secret"): 0, filepath.Join(outside, "linked"): 0, filepath.Join(ws, "nobodys"): 65534} {
		if got := owner(t, path); got != want {
			t.Errorf("after Own, %s belongs to %d, want %d", path, got, want)
		}
	}
	var out strings.Builder
	res, err := l.Run(context.Background(), sandbox.Step{Command: []string{"sh", "-c", "echo new > /ws/src/new && mkdir /ws/dir"},
		Mounts: []sandbox.Mount{{Source: ws, Target: "/ws", Writable: true}}, Stdout: &out, Stderr: &out})
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("writing the owned workspace: %+v %v %s", res, err, out.String())
	}
	if got := owner(t, filepath.Join(ws, "src", "new")); got != uid {
		t.Errorf("the step's file belongs to %d, want %d", got, uid)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{ws, filepath.Join(ws, "src", "main.c"), filepath.Join(ws, "src", "new"), filepath.Join(ws, "dir")} {
		if got := owner(t, p); got != 0 {
			t.Errorf("after Release, %s belongs to %d, want 0", p, got)
		}
	}
	if _, err := l.Run(context.Background(), sandbox.Step{Command: []string{"true"}}); err == nil {
		t.Error("a released lease ran a step")
	}
}

// TestRunLendsWritableMounts: Run without a lease runs the step as a host
// user of its own, lends it the writable mounts and takes them back.
func TestRunLendsWritableMounts(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	r := newRunner(t, sandbox.Options{})
	ws := t.TempDir()
	var out strings.Builder
	res, err := r.Run(context.Background(), sandbox.Step{Command: []string{"sh", "-c", "stat -c %u /ws; echo x > /ws/f"},
		Mounts: []sandbox.Mount{{Source: ws, Target: "/ws", Writable: true}}, Stdout: &out, Stderr: &out})
	if err != nil || res.ExitCode != 0 || strings.TrimSpace(out.String()) != "1000" {
		t.Fatalf("step: %+v %v %q (want the workspace to be the sandbox user's, 1000)", res, err, out.String())
	}
	if got := owner(t, filepath.Join(ws, "f")); got != 0 {
		t.Fatalf("after the step, its file belongs to %d, want 0", got)
	}
}

// TestHostUIDOption: Options.HostUID runs every step as that user.
func TestHostUIDOption(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	const nobody = 65534
	r := newRunner(t, sandbox.Options{HostUID: nobody, HostGID: nobody})
	if got := stepHostUID(t, r, strconv.Itoa(5000000+os.Getpid()%1000)); got != nobody {
		t.Fatalf("step ran as host uid %d, want %d", got, nobody)
	}
}

// TestHostIDRangeRefused: a range overlapping root, nobody or an account
// is refused when the runner is made.
func TestHostIDRangeRefused(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	requireBwrap(t)
	for _, ids := range []sandbox.HostIDs{{First: 0, Count: 10}, {First: 65500, Count: 100}, {First: 1, Count: 5},
		{First: 4294967290, Count: 10}, {First: 3000000000, Count: -1}} {
		_, err := sandbox.NewBubblewrap(sandbox.Options{HostIDs: ids})
		if err == nil {
			t.Errorf("host ids %s: want an error", ids)
		}
	}
	if _, err := sandbox.ParseHostIDs("2000000000-65536"); err == nil {
		t.Error("ParseHostIDs accepted FIRST-COUNT")
	}
	if ids, err := sandbox.ParseHostIDs("3000000000:10"); err != nil || ids != (sandbox.HostIDs{First: 3000000000, Count: 10}) {
		t.Errorf("ParseHostIDs = %v, %v", ids, err)
	}
}

// TestNetworkStepWithoutHelper: without slirp4netns a network step fails
// saying what to install; it never falls back to the host's network.
func TestNetworkStepWithoutHelper(t *testing.T) {
	t.Parallel()
	r := newRunner(t, sandbox.Options{Slirp4netns: "/nonexistent/slirp4netns"})
	if e := r.Enforcement(); !strings.Contains(e.Network, "unavailable") {
		t.Errorf("Enforcement().Network = %q", e.Network)
	}
	_, err := r.Run(context.Background(), sandbox.Step{Command: []string{"true"}, Network: true})
	if err == nil || !strings.Contains(err.Error(), "apt-get install slirp4netns") {
		t.Fatalf("network step without slirp4netns: want an error naming the package, got %v", err)
	}
	if res, err := r.Run(context.Background(), sandbox.Step{Command: []string{"true"}}); err != nil || res.ExitCode != 0 {
		t.Fatalf("a step without network: %+v %v", res, err)
	}
}

// TestImageSysNotMounted: an image's /sys is left out: nothing of a sysfs,
// nor of the image's /sys, appears in the step; the step sees an empty
// directory (package managers expect one).
func TestImageSysNotMounted(t *testing.T) {
	t.Parallel()
	r := newRunner(t, sandbox.Options{})
	root := busyboxRoot(t)
	mustWrite(t, filepath.Join(root, "sys", "kernel", "mm", "setting"), "0")
	var out strings.Builder
	res, err := r.Run(context.Background(), sandbox.Step{RootFS: root, Stdout: &out, Stderr: &out,
		Command: []string{"sh", "-c", "test -d /sys || echo no-sys-dir; ls -A /sys; test -e /sys/kernel && echo sys-content; true"}})
	if err != nil || res.ExitCode != 0 || out.String() != "" {
		t.Fatalf("step in an image with /sys: %+v %v %q", res, err, out.String())
	}
}

func mustWrite(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func owner(t *testing.T, path string) int {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return int(fi.Sys().(*syscall.Stat_t).Uid)
}
