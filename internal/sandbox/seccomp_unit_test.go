package sandbox

import (
	"encoding/binary"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// evalFilter runs a classic BPF seccomp program on one syscall, as the
// kernel would, and returns the action.
func evalFilter(t *testing.T, prog []unix.SockFilter, arch, nr uint32, arg0 uint64) uint32 {
	t.Helper()
	var data [64]byte // struct seccomp_data
	binary.LittleEndian.PutUint32(data[offNr:], nr)
	binary.LittleEndian.PutUint32(data[offArch:], arch)
	binary.LittleEndian.PutUint64(data[offArg0:], arg0)
	var acc uint32
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		var jump bool
		switch in.Code {
		case unix.BPF_LD | unix.BPF_W | unix.BPF_ABS:
			acc = binary.LittleEndian.Uint32(data[in.K:])
			continue
		case unix.BPF_RET | unix.BPF_K:
			return in.K
		case unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K:
			jump = acc == in.K
		case unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K:
			jump = acc >= in.K
		case unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K:
			jump = acc&in.K != 0
		default:
			t.Fatalf("instruction %d: unexpected code %#x", pc, in.Code)
		}
		if jump {
			pc += int(in.Jt)
		} else {
			pc += int(in.Jf)
		}
	}
	t.Fatalf("syscall %d ran off the end of the program", nr)
	return 0
}

func TestSeccompPolicy(t *testing.T) {
	t.Parallel()
	p, ok := nativeSeccompPolicy()
	if !ok {
		t.Skipf("no seccomp filter for %s", runtime.GOARCH)
	}
	prog, err := p.compile()
	if err != nil {
		t.Fatal(err)
	}
	allow, eperm := uint32(unix.SECCOMP_RET_ALLOW), uint32(unix.SECCOMP_RET_ERRNO|uint32(unix.EPERM))
	enosys := uint32(unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS))
	check := func(what string, arch, nr uint32, arg0 uint64, want uint32) {
		if got := evalFilter(t, prog, arch, nr, arg0); got != want {
			t.Errorf("%s: action %#x, want %#x", what, got, want)
		}
	}
	for _, r := range p.denied {
		check(r.name, p.arch, r.nr, 0, unix.SECCOMP_RET_ERRNO|uint32(r.errno))
	}
	for _, nr := range []uint32{unix.SYS_READ, unix.SYS_WRITE, unix.SYS_OPENAT, unix.SYS_EXECVE,
		unix.SYS_GETPID, unix.SYS_WAIT4, unix.SYS_SECCOMP, unix.SYS_SOCKET} {
		check("allowed", p.arch, nr, 0, allow)
	}
	check("foreign arch", unix.AUDIT_ARCH_I386, unix.SYS_GETPID, 0, unix.SECCOMP_RET_KILL_PROCESS)
	check("fork", p.arch, p.clone, uint64(unix.SIGCHLD), allow)
	check("thread", p.arch, p.clone, unix.CLONE_VM|unix.CLONE_FS|unix.CLONE_FILES|unix.CLONE_SIGHAND|unix.CLONE_THREAD, allow)
	check("unshare files", p.arch, p.unshare, unix.CLONE_FILES|unix.CLONE_FS|unix.CLONE_SYSVSEM, allow)
	for _, f := range []uint64{unix.CLONE_NEWNS, unix.CLONE_NEWCGROUP, unix.CLONE_NEWUTS, unix.CLONE_NEWIPC,
		unix.CLONE_NEWUSER, unix.CLONE_NEWPID, unix.CLONE_NEWNET} {
		check("clone namespace", p.arch, p.clone, f|uint64(unix.SIGCHLD), eperm)
		check("unshare namespace", p.arch, p.unshare, f, eperm)
	}
	check("unshare time namespace", p.arch, p.unshare, unix.CLONE_NEWTIME, eperm)
	if p.x32 {
		check("x32 read", p.arch, x32SyscallBit|unix.SYS_READ, 0, enosys)
		check("syscall -1", p.arch, ^uint32(0), 0, enosys)
	}
}

func TestSeccompFilterDeniesBriefList(t *testing.T) {
	t.Parallel()
	p, ok := nativeSeccompPolicy()
	if !ok {
		t.Skipf("no seccomp filter for %s", runtime.GOARCH)
	}
	var names []string
	for _, r := range p.denied {
		names = append(names, r.name)
	}
	for _, n := range []string{"kexec_load", "init_module", "bpf", "perf_event_open", "userfaultfd",
		"keyctl", "ptrace", "open_by_handle_at", "mount", "setns", "clone3", "io_uring_setup"} {
		if !slices.Contains(names, n) {
			t.Errorf("%s is not denied", n)
		}
	}
}

func TestSeccompArgsAndDescriptor(t *testing.T) {
	t.Parallel()
	f, err := newSeccompFilter(false)
	if err != nil {
		t.Fatal(err)
	}
	if f.program == nil {
		t.Skipf("no seccomp filter here: %s", f.note)
	}
	b := &Bubblewrap{seccomp: f, opts: Options{UID: 1000, GID: 1000}}
	self := hostUser{uid: os.Geteuid(), gid: os.Getegid()}
	cl, err := b.commandLine(Step{Command: []string{"true"}, RootFS: t.TempDir()}, DefaultLimits, self)
	if err != nil {
		t.Fatal(err)
	}
	args := cl.args
	i := slices.Index(args, "--seccomp")
	if i < 0 || args[i+1] != "5" || i > slices.Index(args, "--") {
		t.Fatalf("want --seccomp 5 before the command: %q", args)
	}
	r, err := f.pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got := make([]byte, len(f.program)+1)
	n, _ := r.Read(got)
	if n != len(f.program) || string(got[:n]) != string(f.program) || len(f.program)%8 != 0 {
		t.Fatalf("pipe holds %d bytes, want the %d-byte program", n, len(f.program))
	}
	b.seccomp = seccompFilter{digest: "none"}
	if cl, _ := b.commandLine(Step{Command: []string{"true"}, RootFS: t.TempDir()}, DefaultLimits, self); slices.Contains(cl.args, "--seccomp") {
		t.Fatalf("no filter, yet --seccomp: %q", cl.args)
	}
}

// TestSeccompDisable: not parallel, it sets the environment.
func TestSeccompDisable(t *testing.T) {
	for _, c := range []struct {
		env     string
		disable bool
		want    string
	}{{"off", false, "none"}, {"", true, "none"}, {"on", false, "sha256:"}} {
		t.Setenv(SeccompEnv, c.env)
		f, err := newSeccompFilter(c.disable)
		if err != nil || !strings.HasPrefix(f.digest, c.want) || (c.want == "none") != (f.program == nil) {
			t.Errorf("%s=%q, disable %v: digest %q, %d bytes, %v", SeccompEnv, c.env, c.disable, f.digest, len(f.program), err)
		}
		if c.want == "none" && f.note == "" {
			t.Errorf("%s=%q, disable %v: no note says why", SeccompEnv, c.env, c.disable)
		}
	}
	t.Setenv(SeccompEnv, "no")
	if _, err := newSeccompFilter(false); err == nil {
		t.Error(`KILN_SANDBOX_SECCOMP="no": want an error`)
	}
}

// TestSeccompDigestDocumented: the README names the filter version (its
// digest) that runs on x86_64, so a change to the filter updates the docs.
func TestSeccompDigestDocumented(t *testing.T) {
	t.Parallel()
	if runtime.GOARCH != "amd64" {
		t.Skip("the README records the x86_64 digest")
	}
	f, err := newSeccompFilter(false)
	if err != nil || f.program == nil {
		t.Fatalf("%+v %v", f, err)
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), f.digest) {
		t.Fatalf("README.md does not name the filter's digest %s: update it", f.digest)
	}
}

func TestBPFAsmErrors(t *testing.T) {
	t.Parallel()
	var a bpfAsm
	a.jump(unix.BPF_JEQ, 1, "nowhere", "")
	a.ret(0)
	if _, err := a.assemble(); err == nil {
		t.Error("a jump to an undefined label: want an error")
	}
	var far bpfAsm
	far.jump(unix.BPF_JEQ, 1, "end", "")
	for range 300 {
		far.ret(0)
	}
	far.label("end")
	far.ret(0)
	if _, err := far.assemble(); err == nil {
		t.Error("a jump of more than 255 instructions: want an error")
	}
	var back bpfAsm
	back.label("start")
	back.jump(unix.BPF_JEQ, 1, "start", "")
	if _, err := back.assemble(); err == nil {
		t.Error("a backward jump: want an error")
	}
}
