package sandbox

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestNetworkHelperAsStepUser: where /dev/net/tun is usable by everyone
// (udev's 0666; here a node bound over it in the spawner thread's mount
// namespace only), slirp4netns runs as the step's host user, not root, and
// the network step works.
func TestNetworkHelperAsStepUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("about a server running as root")
	}
	for _, bin := range []string{"bwrap", "slirp4netns"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s is not installed", bin)
		}
	}
	b, err := NewBubblewrap(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	openTun(t)
	l, err := b.Lease()
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	uid, _ := l.HostUser()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	out := &lineWriter{lines: make(chan string, 10)}
	go func() {
		res, err := l.Run(ctx, Step{Network: true, Stdout: out, Stderr: out,
			Command: []string{"sh", "-c", "ip -4 addr show tap0 | grep -q 10.0.2.100 && echo up || echo down; exec sleep 60"}})
		if err == nil && res.Reason != ReasonCancelled {
			t.Errorf("step: %+v", res)
		}
		done <- err
	}()
	owner := waitForSlirp(t)
	line := <-out.lines
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if owner != uid || line != "up" {
		t.Fatalf("slirp4netns ran as uid %d (want the step's %d); the step's tap0 is %q", owner, uid, line)
	}
}

// lineWriter sends each line written to it.
type lineWriter struct{ lines chan string }

func (w *lineWriter) Write(p []byte) (int, error) {
	for _, l := range strings.Split(strings.TrimSpace(string(p)), "\n") {
		w.lines <- l
	}
	return len(p), nil
}

// openTun binds a 0666 tun node over /dev/net/tun in the spawner thread's
// mount namespace, for the rest of the test.
func openTun(t *testing.T) {
	node := filepath.Join(t.TempDir(), "tun")
	var err error
	onSpawner(func() {
		if err = enterPrivateNS(); err != nil {
			return
		}
		if err = unix.Mknod(node, unix.S_IFCHR|0o666, int(unix.Mkdev(10, 200))); err == nil {
			err = os.Chmod(node, 0o666)
		}
		if err == nil {
			err = unix.Mount(node, tunPath, "", unix.MS_BIND, "")
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { onSpawner(func() { _ = unix.Unmount(tunPath, unix.MNT_DETACH) }) })
}

// waitForSlirp returns the uid of this process's slirp4netns child.
func waitForSlirp(t *testing.T) int {
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			cmd, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
			if !strings.Contains(string(cmd), "slirp4netns\x00") || parentOf(atoi(e.Name())) != os.Getpid() {
				continue
			}
			var st unix.Stat_t
			if err := unix.Stat("/proc/"+e.Name(), &st); err == nil {
				return int(st.Uid)
			}
		}
	}
	t.Fatal("no slirp4netns process")
	return -1
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
