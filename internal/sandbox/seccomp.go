package sandbox

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"runtime"
	"slices"

	"golang.org/x/sys/unix"
)

// The default seccomp filter: a deny-list, loaded by bwrap (--seccomp) right
// before it execs the step's command, after it has built the sandbox. It
// denies syscalls a build never needs and that widen the kernel attack
// surface (see seccompDenied in seccomp_table.go and the README), answers
// clone3 and io_uring with ENOSYS so that callers fall back, and kills the
// process on a foreign syscall ABI. It is classic BPF written by hand: no
// cgo, no libseccomp.

// seccompFD is the descriptor bwrap reads the filter from (ExtraFiles[2]).
const seccompFD = 5

// SeccompEnv, set to "off" in the server's environment, runs steps without
// the seccomp filter (debugging only: to strace a step, or to tell whether a
// failure comes from the filter). Options.DisableSeccomp does the same.
const SeccompEnv = "KILN_SANDBOX_SECCOMP"

// seccompRule is one denied syscall.
type seccompRule struct {
	name  string
	nr    uint32
	errno unix.Errno // EPERM, or ENOSYS where callers fall back on it
}

// seccompPolicy is what the program encodes for one architecture.
type seccompPolicy struct {
	arch uint32 // AUDIT_ARCH_*: any other architecture is killed
	// x32 denies x86_64's x32 ABI (syscall numbers with bit 30 set).
	x32 bool
	// denied are refused outright; clone and unshare only with namespace
	// flags (clone3's flags are in memory a filter cannot read: it is in
	// denied, with ENOSYS, so that glibc falls back to clone).
	denied         []seccompRule
	clone, unshare uint32
}

// Namespace flags refused in clone and unshare. CLONE_NEWTIME (0x80) lies in
// clone's exit-signal byte, so only unshare can take it.
const (
	cloneNamespaces = unix.CLONE_NEWNS | unix.CLONE_NEWCGROUP | unix.CLONE_NEWUTS |
		unix.CLONE_NEWIPC | unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNET
	unshareNamespaces = cloneNamespaces | unix.CLONE_NEWTIME
)

// Offsets in struct seccomp_data: int nr; u32 arch; u64 ip; u64 args[6].
// args[0] is read as its low 32 bits (little-endian), which is all clone and
// unshare look at for namespace flags.
const (
	offNr   = 0
	offArch = 4
	offArg0 = 16
)

const x32SyscallBit = 0x40000000

// maxSeccompProgram bounds the encoded program to one page, the smallest
// buffer a pipe gets (when the user's pipe quota is exhausted).
const maxSeccompProgram = 4096

// seccompFilter is the filter a runner gives every step.
type seccompFilter struct {
	program []byte // nil: steps run without a filter
	digest  string // "sha256:" and 12 hex digits of program, or "none"
	note    string // why there is no filter
}

// newSeccompFilter compiles the default filter unless it is disabled by
// Options.DisableSeccomp or SeccompEnv, or this architecture has none.
func newSeccompFilter(disable bool) (seccompFilter, error) {
	switch v := os.Getenv(SeccompEnv); v {
	case "", "on":
	case "off":
		return seccompFilter{digest: "none", note: "seccomp filter disabled by " + SeccompEnv + "=off"}, nil
	default:
		return seccompFilter{}, fmt.Errorf("%s=%q: want \"on\" or \"off\"", SeccompEnv, v)
	}
	if disable {
		return seccompFilter{digest: "none", note: "seccomp filter disabled by configuration"}, nil
	}
	policy, ok := nativeSeccompPolicy()
	if !ok {
		return seccompFilter{digest: "none", note: "no seccomp filter for " + runtime.GOARCH}, nil
	}
	prog, err := policy.compile()
	if err != nil {
		return seccompFilter{}, fmt.Errorf("compiling the seccomp filter: %w", err)
	}
	b := encodeFilter(prog)
	if len(b) > maxSeccompProgram {
		return seccompFilter{}, fmt.Errorf("seccomp filter of %d bytes exceeds %d", len(b), maxSeccompProgram)
	}
	return seccompFilter{program: b, digest: filterDigest(b)}, nil
}

func filterDigest(program []byte) string {
	sum := sha256.Sum256(program)
	return "sha256:" + hex.EncodeToString(sum[:6])
}

// encodeFilter lays out struct sock_filter {u16 code; u8 jt, jf; u32 k} as
// bwrap reads it: raw, in the machine's byte order.
func encodeFilter(prog []unix.SockFilter) []byte {
	b := make([]byte, 0, 8*len(prog))
	for _, in := range prog {
		b = binary.NativeEndian.AppendUint16(b, in.Code)
		b = append(b, in.Jt, in.Jf)
		b = binary.NativeEndian.AppendUint32(b, in.K)
	}
	return b
}

// compile lays the policy out as:
//
//	load arch; not native -> kill
//	load nr; x32 -> ENOSYS; each denied nr -> its errno
//	clone, unshare -> check flags; everything else -> allow
func (p seccompPolicy) compile() ([]unix.SockFilter, error) {
	var a bpfAsm
	a.load(offArch)
	a.jump(unix.BPF_JEQ, p.arch, "", "kill")
	a.load(offNr)
	if p.x32 {
		a.jump(unix.BPF_JGE, x32SyscallBit, errnoLabel(unix.ENOSYS), "")
	}
	for _, r := range p.denied {
		a.jump(unix.BPF_JEQ, r.nr, errnoLabel(r.errno), "")
	}
	a.jump(unix.BPF_JEQ, p.clone, "clone", "")
	a.jump(unix.BPF_JEQ, p.unshare, "unshare", "")
	a.ret(unix.SECCOMP_RET_ALLOW)
	for _, c := range []struct {
		label string
		mask  uint32
	}{{"clone", cloneNamespaces}, {"unshare", unshareNamespaces}} {
		a.label(c.label)
		a.load(offArg0)
		a.jump(unix.BPF_JSET, c.mask, errnoLabel(unix.EPERM), "")
		a.ret(unix.SECCOMP_RET_ALLOW)
	}
	for _, e := range p.errnos() {
		a.label(errnoLabel(e))
		a.ret(unix.SECCOMP_RET_ERRNO | uint32(e))
	}
	a.label("kill")
	a.ret(unix.SECCOMP_RET_KILL_PROCESS)
	return a.assemble()
}

func errnoLabel(e unix.Errno) string { return "errno " + unix.ErrnoName(e) }

// errnos are the distinct errnos the program returns, EPERM always.
func (p seccompPolicy) errnos() []unix.Errno {
	out := []unix.Errno{unix.EPERM}
	if p.x32 {
		out = append(out, unix.ENOSYS)
	}
	for _, r := range p.denied {
		if !slices.Contains(out, r.errno) {
			out = append(out, r.errno)
		}
	}
	return out
}

// bpfAsm assembles classic BPF with forward jumps to named labels.
type bpfAsm struct {
	prog   []unix.SockFilter
	jumps  []bpfJump
	labels map[string]int
}

type bpfJump struct {
	at     int
	jt, jf string // "" is the next instruction
}

func (a *bpfAsm) load(off uint32) {
	a.prog = append(a.prog, unix.SockFilter{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: off})
}

func (a *bpfAsm) jump(op uint16, k uint32, jt, jf string) {
	a.jumps = append(a.jumps, bpfJump{at: len(a.prog), jt: jt, jf: jf})
	a.prog = append(a.prog, unix.SockFilter{Code: unix.BPF_JMP | op | unix.BPF_K, K: k})
}

func (a *bpfAsm) ret(k uint32) {
	a.prog = append(a.prog, unix.SockFilter{Code: unix.BPF_RET | unix.BPF_K, K: k})
}

func (a *bpfAsm) label(name string) {
	if a.labels == nil {
		a.labels = map[string]int{}
	}
	a.labels[name] = len(a.prog)
}

// assemble resolves the jumps; the kernel allows only forward jumps of at
// most 255 instructions, and programs of at most 4096 instructions.
func (a *bpfAsm) assemble() ([]unix.SockFilter, error) {
	if len(a.prog) > unix.BPF_MAXINSNS {
		return nil, fmt.Errorf("%d instructions, more than %d", len(a.prog), unix.BPF_MAXINSNS)
	}
	for _, j := range a.jumps {
		jt, err := a.offset(j.at, j.jt)
		if err != nil {
			return nil, err
		}
		jf, err := a.offset(j.at, j.jf)
		if err != nil {
			return nil, err
		}
		a.prog[j.at].Jt, a.prog[j.at].Jf = jt, jf
	}
	return a.prog, nil
}

func (a *bpfAsm) offset(at int, label string) (uint8, error) {
	if label == "" {
		return 0, nil
	}
	to, ok := a.labels[label]
	if !ok {
		return 0, fmt.Errorf("jump to undefined label %q", label)
	}
	off := to - at - 1
	if off < 0 || off > 255 {
		return 0, fmt.Errorf("jump from %d to %q at %d out of range", at, label, to)
	}
	return uint8(off), nil
}

// pipe returns the read end of a pipe holding the program, for bwrap to
// read to EOF (and close) right before it execs the step; nil without a
// filter. The program fits a pipe's smallest buffer (one page, see
// maxSeccompProgram), so the write cannot block.
func (f seccompFilter) pipe() (*os.File, error) {
	if f.program == nil {
		return nil, nil
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	_, err = w.Write(f.program)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		closeAll(r)
		return nil, err
	}
	return r, nil
}
