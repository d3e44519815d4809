package sandbox_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/kilnbuild/kiln/internal/sandbox"
)

// seccompWant is what each probe of testdata/seccompprobe must report under
// the default filter; "ok" probes are the allowed counterparts.
var seccompWant = map[string]string{
	"seccomp": "2", "kexec_load": "EPERM", "init_module": "EPERM", "finit_module": "EPERM",
	"delete_module": "EPERM", "bpf": "EPERM", "perf_event_open": "EPERM", "userfaultfd": "EPERM",
	"io_uring_setup": "ENOSYS", "keyctl": "EPERM", "add_key": "EPERM", "request_key": "EPERM",
	"ptrace": "EPERM", "process_vm_readv": "EPERM", "process_vm_writev": "EPERM",
	"open_by_handle_at": "EPERM", "name_to_handle_at": "EPERM", "mount": "EPERM", "umount2": "EPERM",
	"pivot_root": "EPERM", "chroot": "EPERM", "fsopen": "EPERM", "open_tree": "EPERM",
	"setns": "EPERM", "unshare_newuser": "EPERM", "unshare_newns": "EPERM", "unshare_newtime": "EPERM",
	"unshare_files": "ok", "clone3": "ENOSYS", "swapon": "EPERM", "reboot": "EPERM", "acct": "EPERM",
	"clock_settime": "EPERM", "adjtimex": "EPERM", "syslog": "EPERM", "quotactl": "EPERM",
	"vhangup": "EPERM", "fanotify_init": "EPERM", "getpid": "ok", "clone_newuser": "EPERM",
	"exec_child": "ok",
}

var seccompWantAMD64 = map[string]string{"iopl": "EPERM", "ioperm": "EPERM", "x32_getpid": "ENOSYS"}

// TestSeccompDeniesSyscalls runs the probe under the default filter (every
// denied call fails with the filter's errno, allowed ones work) and without
// it (the filter is what made the difference).
func TestSeccompDeniesSyscalls(t *testing.T) {
	t.Parallel()
	probe := buildProbe(t)
	got := runProbe(t, newRunner(t, sandbox.Options{}), probe)
	want := seccompWant
	if runtime.GOARCH == "amd64" {
		for k, v := range seccompWantAMD64 {
			want[k] = v
		}
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s: got %q under the filter, want %q", name, got[name], w)
		}
	}
	off := runProbe(t, newRunner(t, sandbox.Options{DisableSeccomp: true}), probe)
	for name, w := range map[string]string{"seccomp": "0", "clone3": "EINVAL", "setns": "EBADF",
		"process_vm_readv": "ok", "exec_child": "ok", "unshare_files": "ok"} {
		if off[name] != w {
			t.Errorf("%s: got %q without the filter, want %q", name, off[name], w)
		}
	}
}

// buildProbe compiles testdata/seccompprobe into a directory a step can
// mount.
func buildProbe(t *testing.T) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go is not in PATH: cannot build the seccomp probe")
	}
	dir := t.TempDir()
	cmd := exec.Command(gobin, "build", "-o", filepath.Join(dir, "seccompprobe"), "./testdata/seccompprobe")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the probe: %v\n%s", err, out)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// runProbe runs the probe in r and returns its report, name -> result.
func runProbe(t *testing.T, r sandbox.Runner, dir string) map[string]string {
	t.Helper()
	var out, errOut strings.Builder
	res, err := r.Run(context.Background(), sandbox.Step{
		Command: []string{"/probe/seccompprobe"},
		Mounts:  []sandbox.Mount{{Source: dir, Target: "/probe"}},
		Stdout:  &out, Stderr: &errOut,
	})
	if err != nil || res.ExitCode != 0 || res.Reason != "" {
		t.Fatalf("probe: %+v %v\n%s%s", res, err, out.String(), errOut.String())
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if k, v, ok := strings.Cut(line, " "); ok {
			got[k] = v
		}
	}
	return got
}

// TestSeccompBuildStillWorks: a step doing ordinary build work (shell,
// coreutils, a threaded C program built by cc and make, a Python script)
// passes under the filter; cc, make and python3 are required when the host
// root has them. glibc's pthread_create and posix_spawn try clone3
// first and must fall back to clone.
func TestSeccompBuildStillWorks(t *testing.T) {
	t.Parallel()
	r := newRunner(t, sandbox.Options{})
	if e := r.Enforcement(); !strings.HasPrefix(e.Seccomp, "sha256:") {
		t.Fatalf("enforcement %+v: want a seccomp filter", e)
	}
	ws := t.TempDir()
	script := `set -e
mkdir -p out/a && echo hello > out/a/x && cp -r out copy && sort copy/a/x | wc -l
tar -cf t.tar out && tar -tf t.tar | grep -q out/a/x
sh -c 'sleep 0.1 & wait' && printf 'one\ntwo\n' | xargs -n1 echo | sed 's/o/0/' >> log
if command -v cc >/dev/null && command -v make >/dev/null; then
	cat > t.c <<'C'
#include <pthread.h>
#include <stdio.h>
#include <spawn.h>
#include <sys/wait.h>
extern char **environ;
static void *run(void *p) { return p; }
int main(void) {
	pthread_t th; pid_t pid; int st; void *r;
	char *argv[] = {"true", 0};
	if (pthread_create(&th, 0, run, (void *)42) || pthread_join(th, &r) || r != (void *)42) return 1;
	if (posix_spawnp(&pid, "true", 0, 0, argv, environ) || waitpid(pid, &st, 0) != pid || st) return 2;
	puts("threads-and-spawn-ok");
	return 0;
}
C
	printf 't: t.c\n\tcc -O2 -pthread -o t t.c\n' > Makefile
	make -s && ./t
else
	echo no-cc
fi
if command -v python3 >/dev/null; then
	python3 -c 'import subprocess, threading, tempfile; t = threading.Thread(target=print); t.start(); t.join(); subprocess.run(["true"], check=True); tempfile.TemporaryFile().write(b"x"); print("python-ok")'
else
	echo no-python3
fi
`
	var out strings.Builder
	res, err := r.Run(context.Background(), sandbox.Step{
		Command: []string{"sh", "-c", script}, WorkDir: "/workspace",
		Mounts: []sandbox.Mount{{Source: ws, Target: "/workspace", Writable: true}},
		Stdout: &out, Stderr: &out,
	})
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("build step: %+v %v\n%s", res, err, out.String())
	}
	want := []string{"1\n"}
	if onHost("/usr/bin/cc") && onHost("/usr/bin/make") {
		want = append(want, "threads-and-spawn-ok\n")
	}
	if onHost("/usr/bin/python3") {
		want = append(want, "python-ok\n")
	}
	for _, want := range want {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if b, err := os.ReadFile(filepath.Join(ws, "log")); err != nil || string(b) != "0ne\ntw0\n" {
		t.Errorf("log = %q, %v", b, err)
	}
}

func onHost(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// TestSeccompKillsForeignABI: an i386 syscall (int 0x80) from an x86_64
// process would bypass a filter written for x86_64 numbers; the filter
// kills the process (SIGSYS) instead.
func TestSeccompKillsForeignABI(t *testing.T) {
	t.Parallel()
	if runtime.GOARCH != "amd64" {
		t.Skip("about x86_64's i386 ABI")
	}
	if _, err := exec.LookPath("cc"); err != nil {
		t.Skip("cc is not installed")
	}
	r := newRunner(t, sandbox.Options{})
	ws := t.TempDir()
	src := "int main(void) { long r; __asm__ volatile(\"int $0x80\" : \"=a\"(r) : \"a\"(20L)); return r > 0 ? 0 : 3; }\n"
	if err := os.WriteFile(filepath.Join(ws, "i386.c"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	res, err := r.Run(context.Background(), sandbox.Step{
		Command: []string{"sh", "-c", "cc -o i386 i386.c && { ./i386; echo status $?; }"},
		WorkDir: "/workspace", Mounts: []sandbox.Mount{{Source: ws, Target: "/workspace", Writable: true}},
		Stdout: &out, Stderr: &out,
	})
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("step: %+v %v\n%s", res, err, out.String())
	}
	if !strings.Contains(out.String(), "status 159") { // 128 + SIGSYS
		t.Fatalf("an i386 getpid was not killed by SIGSYS:\n%s", out.String())
	}
}

// BenchmarkEmptyStepNoSeccomp is BenchmarkEmptyStep without the filter, to
// measure what the filter costs per step.
func BenchmarkEmptyStepNoSeccomp(b *testing.B) {
	r := newRunner(b, sandbox.Options{DisableSeccomp: true})
	step := sandbox.Step{Command: []string{"/bin/true"}}
	for b.Loop() {
		if res, err := r.Run(context.Background(), step); err != nil || res.ExitCode != 0 {
			b.Fatalf("/bin/true: %+v %v", res, err)
		}
	}
}
