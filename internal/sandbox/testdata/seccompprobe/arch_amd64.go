package main

import "golang.org/x/sys/unix"

// archProbes: x86_64-only syscalls, and getpid through the x32 ABI.
func archProbes() {
	for _, p := range []probe{
		{"iopl", unix.SYS_IOPL, [6]uintptr{3}},
		{"ioperm", unix.SYS_IOPERM, [6]uintptr{0x80, 1, 1}},
		{"x32_getpid", 0x40000000 | unix.SYS_GETPID, [6]uintptr{}},
	} {
		report(p.name, call(p))
	}
}
