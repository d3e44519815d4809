package sandbox

import "golang.org/x/sys/unix"

const (
	seccompArch = unix.AUDIT_ARCH_X86_64
	// The x32 ABI is a second syscall table (numbers with bit 30 set) that a
	// filter on x86_64 numbers would not see: denied with ENOSYS, as on
	// kernels built without it. i386 (int 0x80) has another AUDIT_ARCH and
	// is killed.
	seccompX32 = true
)

// seccompArchDenied are x86_64-only syscalls: port I/O, and obsolete module
// and sysctl interfaces.
var seccompArchDenied = []seccompRule{
	{"iopl", unix.SYS_IOPL, unix.EPERM},
	{"ioperm", unix.SYS_IOPERM, unix.EPERM},
	{"create_module", unix.SYS_CREATE_MODULE, unix.EPERM},
	{"uselib", unix.SYS_USELIB, unix.EPERM},
	{"_sysctl", unix.SYS__SYSCTL, unix.EPERM},
}
