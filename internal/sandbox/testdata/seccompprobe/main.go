// Command seccompprobe calls syscalls the sandbox's seccomp filter denies,
// and some it allows, and prints one line per call: its name and "ok" or the
// errno's name. It reports the process's seccomp mode as "seccomp <mode>".
// With argument "child" it exits 0 (it is its own allowed subprocess).
//
// The arguments are chosen so that, without a filter, most calls fail
// harmlessly with an errno other than the filter's (EFAULT, EBADF, EINVAL)
// or succeed without side effects.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

type probe struct {
	name string
	nr   uintptr
	args [6]uintptr
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "child" {
		return
	}
	fmt.Println("seccomp", seccompMode())
	var buf [64]byte
	local := unix.Iovec{Base: &buf[0], Len: 8}
	remote := unix.RemoteIovec{Base: uintptr(unsafe.Pointer(&buf[8])), Len: 8}
	var timex unix.Timex
	pid := uintptr(os.Getpid())
	for _, p := range []probe{
		{"kexec_load", unix.SYS_KEXEC_LOAD, [6]uintptr{0, 0, 0, 0}},
		{"init_module", unix.SYS_INIT_MODULE, [6]uintptr{0, 0, 0}},
		{"finit_module", unix.SYS_FINIT_MODULE, [6]uintptr{^uintptr(0), 0, 0}},
		{"delete_module", unix.SYS_DELETE_MODULE, [6]uintptr{0, 0}},
		{"bpf", unix.SYS_BPF, [6]uintptr{0, 0, 0}},
		{"perf_event_open", unix.SYS_PERF_EVENT_OPEN, [6]uintptr{0, 0, ^uintptr(0), ^uintptr(0), 0}},
		{"userfaultfd", unix.SYS_USERFAULTFD, [6]uintptr{1 /* UFFD_USER_MODE_ONLY */}},
		{"io_uring_setup", unix.SYS_IO_URING_SETUP, [6]uintptr{1, 0}},
		{"keyctl", unix.SYS_KEYCTL, [6]uintptr{unix.KEYCTL_GET_KEYRING_ID, keySpecSession, 0}},
		{"add_key", unix.SYS_ADD_KEY, [6]uintptr{0, 0, 0, 0, 0}},
		{"request_key", unix.SYS_REQUEST_KEY, [6]uintptr{0, 0, 0, 0}},
		{"ptrace", unix.SYS_PTRACE, [6]uintptr{0xdead, 0, 0, 0}},
		{"process_vm_readv", unix.SYS_PROCESS_VM_READV,
			[6]uintptr{pid, uintptr(unsafe.Pointer(&local)), 1, uintptr(unsafe.Pointer(&remote)), 1, 0}},
		{"process_vm_writev", unix.SYS_PROCESS_VM_WRITEV, [6]uintptr{pid, 0, 0, 0, 0, 0}},
		{"open_by_handle_at", unix.SYS_OPEN_BY_HANDLE_AT, [6]uintptr{^uintptr(0), 0, 0}},
		{"name_to_handle_at", unix.SYS_NAME_TO_HANDLE_AT, [6]uintptr{^uintptr(0), 0, 0, 0, 0}},
		{"mount", unix.SYS_MOUNT, [6]uintptr{0, 0, 0, 0, 0}},
		{"umount2", unix.SYS_UMOUNT2, [6]uintptr{0, 0}},
		{"pivot_root", unix.SYS_PIVOT_ROOT, [6]uintptr{0, 0}},
		{"chroot", unix.SYS_CHROOT, [6]uintptr{0}},
		{"fsopen", unix.SYS_FSOPEN, [6]uintptr{0, 0}},
		{"open_tree", unix.SYS_OPEN_TREE, [6]uintptr{^uintptr(0), 0, 0}},
		{"setns", unix.SYS_SETNS, [6]uintptr{^uintptr(0), 0}},
		{"unshare_newuser", unix.SYS_UNSHARE, [6]uintptr{unix.CLONE_NEWUSER}},
		{"unshare_newns", unix.SYS_UNSHARE, [6]uintptr{unix.CLONE_NEWNS}},
		{"unshare_newtime", unix.SYS_UNSHARE, [6]uintptr{unix.CLONE_NEWTIME}},
		{"unshare_files", unix.SYS_UNSHARE, [6]uintptr{unix.CLONE_FILES}},
		{"clone3", unix.SYS_CLONE3, [6]uintptr{0, 0}},
		{"swapon", unix.SYS_SWAPON, [6]uintptr{0, 0}},
		{"reboot", unix.SYS_REBOOT, [6]uintptr{0, 0, 0, 0}},
		{"acct", unix.SYS_ACCT, [6]uintptr{0}},
		{"clock_settime", unix.SYS_CLOCK_SETTIME, [6]uintptr{unix.CLOCK_REALTIME, 0}},
		{"adjtimex", unix.SYS_ADJTIMEX, [6]uintptr{uintptr(unsafe.Pointer(&timex))}},
		{"syslog", unix.SYS_SYSLOG, [6]uintptr{10 /* SYSLOG_ACTION_SIZE_BUFFER */, 0, 0}},
		{"quotactl", unix.SYS_QUOTACTL, [6]uintptr{0, 0, 0, 0}},
		{"vhangup", unix.SYS_VHANGUP, [6]uintptr{}},
		{"fanotify_init", unix.SYS_FANOTIFY_INIT, [6]uintptr{0, 0}},
		{"getpid", unix.SYS_GETPID, [6]uintptr{}},
	} {
		report(p.name, callAlone(p))
	}
	report("clone_newuser", cloneNewUser())
	report("exec_child", exec.Command(os.Args[0], "child").Run())
	archProbes()
}

const keySpecSession = ^uintptr(2) // KEY_SPEC_SESSION_KEYRING, -3

// callAlone makes the call on a thread of its own, which exits with it:
// a call that changes its thread (unshare(CLONE_FILES) gives the thread a
// descriptor table of its own) must not affect the runtime's later work
// on that thread, such as exec_child's fork and exec (EBADF otherwise).
func callAlone(p probe) error {
	done := make(chan error)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		done <- call(p)
	}()
	return <-done
}

func call(p probe) error {
	_, _, e := syscall.Syscall6(p.nr, p.args[0], p.args[1], p.args[2], p.args[3], p.args[4], p.args[5])
	if e != 0 {
		return e
	}
	return nil
}

// cloneNewUser forks into a new user namespace with raw clone; a child,
// should one be made, exits at once.
func cloneNewUser() error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	r, _, e := syscall.RawSyscall6(unix.SYS_CLONE, unix.CLONE_NEWUSER|uintptr(unix.SIGCHLD), 0, 0, 0, 0, 0)
	if e != 0 {
		return e
	}
	if r == 0 {
		syscall.RawSyscall(unix.SYS_EXIT_GROUP, 0, 0, 0)
	}
	_, _ = unix.Wait4(int(r), nil, 0, nil)
	return nil
}

func report(name string, err error) {
	if err == nil {
		fmt.Println(name, "ok")
		return
	}
	if e, ok := err.(syscall.Errno); ok {
		fmt.Println(name, unix.ErrnoName(e))
		return
	}
	fmt.Println(name, strings.ReplaceAll(err.Error(), " ", "_"))
}

// seccompMode is the Seccomp field of /proc/self/status: 0 none, 2 filter.
func seccompMode() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Seccomp:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}
