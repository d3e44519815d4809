//go:build amd64 || arm64

package sandbox

import "golang.org/x/sys/unix"

// seccompDenied is the default deny-list shared by x86_64 and arm64;
// seccompArchDenied (per architecture) adds syscalls only one of them has.
// EPERM is what the kernel answers when a capability is missing, which is
// how callers already handle most of these; ENOSYS where callers are known
// to fall back when the syscall does not exist.
var seccompDenied = []seccompRule{
	// Replacing or extending the running kernel.
	{"kexec_load", unix.SYS_KEXEC_LOAD, unix.EPERM},
	{"kexec_file_load", unix.SYS_KEXEC_FILE_LOAD, unix.EPERM},
	{"init_module", unix.SYS_INIT_MODULE, unix.EPERM},
	{"finit_module", unix.SYS_FINIT_MODULE, unix.EPERM},
	{"delete_module", unix.SYS_DELETE_MODULE, unix.EPERM},
	// Large, often-exploited kernel subsystems a build does not use.
	{"bpf", unix.SYS_BPF, unix.EPERM},
	{"perf_event_open", unix.SYS_PERF_EVENT_OPEN, unix.EPERM},
	{"userfaultfd", unix.SYS_USERFAULTFD, unix.EPERM},
	{"io_uring_setup", unix.SYS_IO_URING_SETUP, unix.ENOSYS},
	{"io_uring_enter", unix.SYS_IO_URING_ENTER, unix.ENOSYS},
	{"io_uring_register", unix.SYS_IO_URING_REGISTER, unix.ENOSYS},
	// The kernel keyring is not namespaced.
	{"keyctl", unix.SYS_KEYCTL, unix.EPERM},
	{"add_key", unix.SYS_ADD_KEY, unix.EPERM},
	{"request_key", unix.SYS_REQUEST_KEY, unix.EPERM},
	// Inspecting and altering other processes (strace, gdb do not work).
	{"ptrace", unix.SYS_PTRACE, unix.EPERM},
	{"process_vm_readv", unix.SYS_PROCESS_VM_READV, unix.EPERM},
	{"process_vm_writev", unix.SYS_PROCESS_VM_WRITEV, unix.EPERM},
	{"kcmp", unix.SYS_KCMP, unix.EPERM},
	{"pidfd_getfd", unix.SYS_PIDFD_GETFD, unix.EPERM},
	// File handles bypass path-based confinement (the "shocker" escape).
	{"open_by_handle_at", unix.SYS_OPEN_BY_HANDLE_AT, unix.EPERM},
	{"name_to_handle_at", unix.SYS_NAME_TO_HANDLE_AT, unix.EPERM},
	// Changing the filesystem bwrap composed (old and new mount API).
	{"mount", unix.SYS_MOUNT, unix.EPERM},
	{"umount2", unix.SYS_UMOUNT2, unix.EPERM},
	{"pivot_root", unix.SYS_PIVOT_ROOT, unix.EPERM},
	{"chroot", unix.SYS_CHROOT, unix.EPERM},
	{"fsopen", unix.SYS_FSOPEN, unix.EPERM},
	{"fsconfig", unix.SYS_FSCONFIG, unix.EPERM},
	{"fsmount", unix.SYS_FSMOUNT, unix.EPERM},
	{"fspick", unix.SYS_FSPICK, unix.EPERM},
	{"move_mount", unix.SYS_MOVE_MOUNT, unix.EPERM},
	{"open_tree", unix.SYS_OPEN_TREE, unix.EPERM},
	{"open_tree_attr", unix.SYS_OPEN_TREE_ATTR, unix.EPERM},
	{"mount_setattr", unix.SYS_MOUNT_SETATTR, unix.EPERM},
	// Namespaces: joining one, or making one (clone3 cannot be inspected:
	// ENOSYS makes glibc fall back to clone, whose flags are checked).
	{"setns", unix.SYS_SETNS, unix.EPERM},
	{"clone3", unix.SYS_CLONE3, unix.ENOSYS},
	// Host-wide state: swap, power, accounting, clock, kernel log, quotas.
	{"swapon", unix.SYS_SWAPON, unix.EPERM},
	{"swapoff", unix.SYS_SWAPOFF, unix.EPERM},
	{"reboot", unix.SYS_REBOOT, unix.EPERM},
	{"acct", unix.SYS_ACCT, unix.EPERM},
	{"settimeofday", unix.SYS_SETTIMEOFDAY, unix.EPERM},
	{"clock_settime", unix.SYS_CLOCK_SETTIME, unix.EPERM},
	{"clock_adjtime", unix.SYS_CLOCK_ADJTIME, unix.EPERM},
	{"adjtimex", unix.SYS_ADJTIMEX, unix.EPERM},
	{"syslog", unix.SYS_SYSLOG, unix.EPERM},
	{"quotactl", unix.SYS_QUOTACTL, unix.EPERM},
	{"quotactl_fd", unix.SYS_QUOTACTL_FD, unix.EPERM},
	{"lookup_dcookie", unix.SYS_LOOKUP_DCOOKIE, unix.EPERM},
	{"vhangup", unix.SYS_VHANGUP, unix.EPERM},
	{"fanotify_init", unix.SYS_FANOTIFY_INIT, unix.EPERM},
	{"nfsservctl", unix.SYS_NFSSERVCTL, unix.EPERM},
}

func nativeSeccompPolicy() (seccompPolicy, bool) {
	denied := append(append([]seccompRule{}, seccompDenied...), seccompArchDenied...)
	return seccompPolicy{arch: seccompArch, x32: seccompX32, denied: denied,
		clone: unix.SYS_CLONE, unshare: unix.SYS_UNSHARE}, true
}
