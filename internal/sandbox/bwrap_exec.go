package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// execution is one running bwrap. Its process tree: the Go server starts
// bwrap, the monitor (cmd.Process); the monitor clones the sandboxed child
// (pid 1 of the step's PID namespace, --as-pid-1), which execs the step's
// command. Killing that child makes the kernel kill everything else in the
// namespace, however deeply forked or detached it is.
type execution struct {
	cmd      *exec.Cmd
	status   *json.Decoder
	statusR  *os.File
	blockW   *os.File
	child    int // host pid of the sandboxed child
	pidfd    int // pidfd of child, -1 until known
	cgroup   *stepCgroup
	staged   *staged // the step's bind sources, until it ends
	net      *slirp  // a Network step's slirp4netns
	out      *output
	start    time.Time
	reason   chan string // holds the first reason the step was stopped
	overflow chan struct{}
}

// start launches bwrap as user, waits until the sandboxed child exists (it
// blocks before running the command), applies the limits to it, connects
// its network namespace for a Network step, then releases it. Limits and
// network are thus in force before the step's first instruction: there is
// no window in which the step runs unconfined.
func (b *Bubblewrap) start(cl *commandLine, step Step, lim Limits, user hostUser) (*execution, error) {
	e, err := b.launch(cl, step, lim, user)
	if err != nil {
		cl.close()
		return nil, err
	}
	if err := b.confine(e, lim, user); err != nil {
		e.abort()
		return nil, e.explain(err)
	}
	if err := shareStdio(e.cmd.Process.Pid, step, user); err != nil {
		e.abort()
		return nil, err
	}
	if step.Network {
		if e.net, err = b.network.start(e.child, e.pidfd, user); err != nil {
			e.abort()
			return nil, err
		}
	}
	e.release()
	return e, nil
}

// launch starts bwrap with its status, start and seccomp pipes.
func (b *Bubblewrap) launch(cl *commandLine, step Step, lim Limits, user hostUser) (*execution, error) {
	e := &execution{pidfd: -1, reason: make(chan string, 1), overflow: make(chan struct{}), staged: cl.staged}
	e.out = &output{limit: lim.Output, exceeded: func() { close(e.overflow) }}
	pipes, err := newPipes(2)
	if err != nil {
		return nil, fmt.Errorf("creating bwrap's status and start pipes: %w", err)
	}
	statusR, statusW, blockR, blockW := pipes[0], pipes[1], pipes[2], pipes[3]
	seccompR, err := b.seccomp.pipe()
	if err != nil {
		closeAll(pipes...)
		return nil, fmt.Errorf("passing the seccomp filter to bwrap: %w", err)
	}
	e.statusR, e.blockW, e.status = statusR, blockW, json.NewDecoder(statusR)
	e.cmd = b.command(cl, step, e.out, []*os.File{statusW, blockR, seccompR}, user)
	e.start = time.Now()
	if err = closeOnExec(); err == nil {
		err = startOnSpawner(e.cmd)
	}
	closeAll(statusW, blockR, seccompR)
	if err != nil {
		closeAll(statusR, blockW)
		return nil, fmt.Errorf("starting bwrap: %w", err)
	}
	return e, nil
}

// newPipes returns n pipes as read, write, read, write, ….
func newPipes(n int) ([]*os.File, error) {
	var files []*os.File
	for range n {
		r, w, err := os.Pipe()
		if err != nil {
			closeAll(files...)
			return nil, err
		}
		files = append(files, r, w)
	}
	return files, nil
}

// command is bwrap's command. pipes are the status, start and seccomp
// pipes (descriptors 3, 4 and 5; a nil seccomp pipe leaves 5 closed). bwrap
// runs as user, without supplementary groups.
func (b *Bubblewrap) command(cl *commandLine, step Step, out *output, pipes []*os.File, user hostUser) *exec.Cmd {
	cmd := exec.Command(b.path, cl.args...)
	cmd.Env = []string{"LANG=C"} // nothing of the server's environment
	cmd.Dir = "/"
	cmd.Stdin = step.Stdin
	cmd.Stdout, cmd.Stderr = out.writers(step.Stdout, step.Stderr)
	cmd.ExtraFiles = pipes
	cmd.WaitDelay = time.Second
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if !user.self() {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(user.uid), Gid: uint32(user.gid)}
	}
	return cmd
}

// confine learns the sandboxed child's pid and puts it under the limits.
func (b *Bubblewrap) confine(e *execution, lim Limits, user hostUser) error {
	var st struct {
		ChildPid int `json:"child-pid"`
	}
	if err := e.status.Decode(&st); err != nil || st.ChildPid <= 0 {
		return fmt.Errorf("bubblewrap did not create the sandbox: %w", errOr(err, io.ErrUnexpectedEOF))
	}
	fd, err := openChild(st.ChildPid, e.cmd.Process.Pid)
	if err != nil {
		return err
	}
	e.child, e.pidfd = st.ChildPid, fd
	uid, gid := user.uid, user.gid
	if b.cgroups == nil {
		return setRlimits(e.child, uid, gid, rlimits(lim, false))
	}
	if e.cgroup, err = b.cgroups.create(lim); err != nil {
		return err
	}
	if err := e.cgroup.add(e.child); err != nil {
		return fmt.Errorf("placing step in its cgroup: %w", err)
	}
	return setRlimits(e.child, uid, gid, rlimits(lim, true))
}

// shareStdio gives the step's host user the pipes os/exec made for its
// stdio, so that reopening them works (/dev/stdout, /proc/self/fd/1:
// `tee /dev/stderr`, `echo > /dev/stdout`), as it does for a process's own
// pipes. The caller's own files (a Stdin that is an *os.File) are left
// alone. pid is bwrap's, which holds the same descriptors.
func shareStdio(pid int, step Step, user hostUser) error {
	if user.self() {
		return nil
	}
	fds := []int{1, 2}
	if _, isFile := step.Stdin.(*os.File); step.Stdin != nil && !isFile {
		fds = append(fds, 0)
	}
	for _, fd := range fds {
		path := fmt.Sprintf("/proc/%d/fd/%d", pid, fd)
		var st unix.Stat_t
		if err := unix.Stat(path, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO {
			continue
		}
		if err := os.Chown(path, user.uid, user.gid); err != nil {
			return fmt.Errorf("giving the step its output pipe: %w", err)
		}
	}
	return nil
}

// openChild opens a pidfd for pid and checks that it is the child of the
// bwrap monitor: had the child died and its pid been reused, the step's limits
// (and later SIGKILL) would hit an unrelated process.
func openChild(pid, monitor int) (int, error) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return -1, fmt.Errorf("opening pidfd of sandbox process %d: %w", pid, err)
	}
	if ppid := parentOf(pid); ppid != monitor {
		_ = unix.Close(fd)
		return -1, fmt.Errorf("sandbox process %d has parent %d, not bwrap %d: it died", pid, ppid, monitor)
	}
	return fd, nil
}

// parentOf reads a process's parent pid from /proc, or returns 0.
func parentOf(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) may contain spaces; fields after ")" are fixed.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.Atoi(f[1])
	return n
}

// explain adds what bwrap printed to an error; call it after Wait.
func (e *execution) explain(err error) error {
	if tail := strings.TrimSpace(e.out.stderrTail()); tail != "" {
		return fmt.Errorf("%w (bubblewrap %v: %s)", err, e.cmd.ProcessState, tail)
	}
	return err
}

func errOr(err, fallback error) error {
	if err != nil {
		return err
	}
	return fallback
}

// release lets the blocked child run the step's command. A write error means
// the child has died already; Wait and the missing exit status report it.
func (e *execution) release() {
	_, _ = e.blockW.Write([]byte{1})
	closeAll(e.blockW)
}

// abort kills a sandbox that never ran its step and cleans up. The child is
// killed before its start pipe closes: closing it would let the child run.
func (e *execution) abort() {
	if e.child == 0 && e.cmd.ProcessState == nil {
		e.child = firstChild(e.cmd.Process.Pid)
	}
	e.killChild()
	_ = e.cmd.Process.Kill()
	closeAll(e.blockW)
	_ = e.cmd.Wait()
	e.cleanup()
}

// firstChild returns a child of pid, or 0.
func firstChild(pid int) int {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	n, _ := strconv.Atoi(f[0])
	return n
}

func (e *execution) killChild() {
	switch {
	case e.pidfd >= 0:
		_ = unix.PidfdSendSignal(e.pidfd, unix.SIGKILL, nil, 0)
	case e.child > 0:
		_ = syscall.Kill(e.child, syscall.SIGKILL)
	}
}

// cleanup stops slirp4netns and releases descriptors and the cgroup; it
// returns the cgroup's removal error.
func (e *execution) cleanup() error {
	e.net.stop()
	e.net = nil
	e.staged.remove() // bwrap's child resolves the staged paths during its setup
	e.staged = nil
	closeAll(e.statusR)
	if e.pidfd >= 0 {
		_ = unix.Close(e.pidfd)
		e.pidfd = -1
	}
	if e.cgroup == nil {
		return nil
	}
	return e.cgroup.remove()
}

// exitCode reads the rest of bwrap's status: an "exit-code" document
// appears only if the step's command was executed.
func (e *execution) exitCode() (int, bool) {
	for {
		var st struct {
			ExitCode *int `json:"exit-code"`
		}
		if err := e.status.Decode(&st); err != nil {
			return 0, false
		}
		if st.ExitCode != nil {
			return *st.ExitCode, true
		}
	}
}

// closeOnExec marks every descriptor above stderr close-on-exec. Go opens
// its own that way, but descriptors inherited by the server (or opened by C
// code) are not, and would otherwise pass through bwrap into the sandbox.
// Descriptors meant for bwrap are passed in ExtraFiles, which are dup'ed.
func closeOnExec() error {
	err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	if err == nil || !errors.Is(err, unix.ENOSYS) {
		return wrapErr("marking descriptors close-on-exec", err)
	}
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return fmt.Errorf("listing descriptors: %w", err)
	}
	for _, e := range entries {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			unix.CloseOnExec(fd)
		}
	}
	return nil
}

func wrapErr(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}

func closeAll(files ...*os.File) {
	for _, f := range files {
		if f != nil {
			_ = f.Close()
		}
	}
}

// copyError returns the error of Wait that is not the step's own failure:
// writing its output to the caller's writers failed.
func copyError(err error) error {
	var exit *exec.ExitError
	if err == nil || errors.As(err, &exit) || errors.Is(err, exec.ErrWaitDelay) {
		return nil
	}
	return fmt.Errorf("copying step output: %w", err)
}

var _ io.Writer = (*limitedWriter)(nil)
