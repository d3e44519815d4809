package sandbox

import "golang.org/x/sys/unix"

const (
	seccompArch = unix.AUDIT_ARCH_AARCH64
	seccompX32  = false // no second native syscall table
)

// seccompArchDenied: arm64 has no syscall the shared list lacks.
var seccompArchDenied []seccompRule
