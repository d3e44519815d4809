package sandboxtest

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kilnbuild/kiln/internal/sandbox"
)

// testNothingWritableInProc: from a step, the list of writable files under
// /proc and /sys (test -w of every entry: busybox find has no -writable)
// is empty; the same search lists a file in /tmp, so it does find writable
// files. Symlinks are left out: /proc/<pid>/fd/N and
// cwd point at the step's own pipes and directories, not at /proc.
// Writing a sysctl (its own value back, harmless had it worked) fails, and
// the host's sysfs is absent. Output through /proc/self/fd/1 and
// /dev/stdout still works.
func testNothingWritableInProc(t *testing.T, s suite) {
	o := s.sh(t, `touch /tmp/canary
n=0
for f in $(busybox find /tmp /proc /sys -type f 2>/dev/null); do
	n=$((n+1))
	if true 2>/dev/null >>"$f"; then echo "$f"; fi
done
echo "entries $n"`)
	var writable []string
	entries := 0
	for _, l := range strings.Split(strings.TrimSpace(o.Stdout), "\n") {
		if n, ok := strings.CutPrefix(l, "entries "); ok {
			entries, _ = strconv.Atoi(n)
		} else if l != "/tmp/canary" {
			writable = append(writable, l)
		}
	}
	if !strings.Contains(o.Stdout, "/tmp/canary\n") || entries < 100 {
		t.Fatalf("the search does not work (no /tmp/canary, or %d entries in /proc): %s", entries, o)
	}
	if len(writable) > 0 {
		t.Fatalf("%d writable files under /proc and /sys, e.g. %q", len(writable), writable[:min(len(writable), 20)])
	}
	o = s.sh(t, `p=$(cat /proc/sys/kernel/core_pattern) && printf '%s\n' "$p" > /proc/sys/kernel/core_pattern`)
	mustFail(t, "writing kernel.core_pattern", o)
	mustFail(t, "seeing the host's sysfs", s.sh(t, "test -e /sys/kernel || test -e /sys/fs/cgroup || test -e /sys/class"))
	o = s.sh(t, "echo via-fd > /proc/self/fd/1; echo via-dev > /dev/stdout; echo via-redirect >&2")
	if o.Stdout != "via-fd\nvia-dev\n" || o.Stderr != "via-redirect\n" {
		t.Fatalf("writing through /proc/self/fd and /dev/stdout: %s", o)
	}
}

// testHostUser: seen from the host, the step's processes run as a host user
// that is not root. When the suite runs as root, that user is none of the
// host's accounts (no /etc/passwd or /etc/group entry) and owns none of
// the step's read-only inputs; otherwise it is the suite's own user.
func testHostUser(t *testing.T, s suite) {
	in := s.env.NewDir(t)
	writeFile(t, filepath.Join(in, "input.txt"), "input")
	marker := strconv.Itoa(100000000 + rand.IntN(800000000))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan out, 1)
	go func() {
		o, _ := s.tryCtx(ctx, sandbox.Step{Command: []string{"sleep", marker},
			Mounts: []sandbox.Mount{{Source: in, Target: "/in"}}})
		done <- o
	}()
	ids := waitForProcess(t, []string{"sleep", marker}, done)
	cancel()
	<-done
	for _, id := range ids {
		switch {
		case id == 0:
			t.Fatalf("the step runs as host root (ids %v)", ids)
		case os.Geteuid() != 0 && id != os.Geteuid() && id != os.Getegid():
			t.Fatalf("the step runs as host ids %v, not the suite's own user", ids)
		}
	}
	if os.Geteuid() != 0 {
		return
	}
	for file, id := range map[string]int{"/etc/passwd": ids[0], "/etc/group": ids[4]} {
		if name := accountOf(t, file, id); name != "" {
			t.Fatalf("the step's host id %d is %s's in %s", id, name, file)
		}
	}
	if owner := ownerOf(t, filepath.Join(in, "input.txt")); owner == ids[0] {
		t.Fatalf("the step's host user %d owns its read-only input", ids[0])
	}
}

// waitForProcess finds the host process whose argv is argv and returns its
// real, effective, saved and filesystem uids, then its gids.
func waitForProcess(t *testing.T, argv []string, done <-chan out) []int {
	t.Helper()
	want := strings.Join(argv, "\x00") + "\x00"
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for _, pid := range procPids() {
			if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil && string(b) == want {
				if ids := procIDs(pid); len(ids) == 8 {
					return ids
				}
			}
		}
		select {
		case o := <-done:
			t.Fatalf("the step ended before it was seen: %s", o)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("no host process %q", argv)
	return nil
}

// procIDs reads the Uid and Gid lines of /proc/<pid>/status.
func procIDs(pid int) []int {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil
	}
	defer f.Close()
	var ids []int
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		if k != "Uid" && k != "Gid" {
			continue
		}
		for _, field := range strings.Fields(v) {
			n, _ := strconv.Atoi(field)
			ids = append(ids, n)
		}
	}
	return ids
}

// accountOf returns the name of id's entry in a passwd or group file.
func accountOf(t *testing.T, file string, id int) string {
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Split(l, ":"); len(f) > 2 && f[2] == strconv.Itoa(id) {
			return f[0]
		}
	}
	return ""
}

func ownerOf(t *testing.T, path string) int {
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return int(fi.Sys().(*syscall.Stat_t).Uid)
}
