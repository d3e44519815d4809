package sandbox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// A Network step gets its own network namespace like every step (bwrap
// --unshare-net), and slirp4netns connects it to the outside: a user-mode
// TCP/IP stack that turns the step's connections into ordinary sockets of
// the host. Its --disable-host-loopback refuses connections to the host's
// loopback (10.0.2.2), so the Kiln API and databases listening on
// 127.0.0.1 stay out of reach, and the step's own namespace hides the
// host's abstract unix sockets. DNS goes to slirp4netns's forwarder at
// 10.0.2.3 (the generated resolv.conf), which asks the host's resolvers.

// slirpTimeout bounds how long slirp4netns may take to configure the
// step's network.
const slirpTimeout = 10 * time.Second

// tunPath is the device slirp4netns opens in the step's namespace.
const tunPath = "/dev/net/tun"

// netHelper is the slirp4netns binary, or why there is none.
type netHelper struct {
	path string
	err  error
}

func lookSlirp(path string) netHelper {
	if path == "" {
		path = "slirp4netns"
	}
	p, err := exec.LookPath(path)
	if err != nil {
		return netHelper{err: fmt.Errorf("network (prefetch) steps run in their own network namespace, "+
			"which slirp4netns connects to the outside, and it is not installed: %w (install the Debian "+
			"package \"slirp4netns\": apt-get install slirp4netns)", err)}
	}
	return netHelper{path: p}
}

func (h netHelper) describe() string {
	if h.err != nil {
		return "unavailable: install slirp4netns"
	}
	return "slirp4netns"
}

// slirp is the slirp4netns of one running step; it ends when exitW closes.
type slirp struct {
	cmd   *exec.Cmd
	exitW *os.File
	done  chan error
	out   *tailWriter
}

// start connects the network namespace of the sandboxed child (pidfd is
// its pidfd) and returns once the namespace's interface is configured.
//
// slirp4netns runs as the step's host user when that user may open
// /dev/net/tun (udev's default mode 0666), joining the user namespace that
// owns the step's network namespace (unprivileged, no capabilities on the
// host; --enable-seccomp); otherwise, with the server root, as root in
// slirp4netns's own sandbox (--enable-sandbox: no capability but
// CAP_NET_BIND_SERVICE, an empty root; --enable-seccomp).
func (h netHelper) start(child, pidfd int, user hostUser) (*slirp, error) {
	if err := waitSetUp(child, pidfd); err != nil {
		return nil, fmt.Errorf("connecting the step's network: %w", err)
	}
	usable := false
	onSpawner(func() { usable = tunUsableBy(user) }) // as slirp4netns will see it
	asRoot := os.Geteuid() == 0 && !usable
	if !usable && !asRoot {
		return nil, fmt.Errorf("network (prefetch) steps need %s, which uid %d may not open: make it usable "+
			"by every user (chmod 0666 %s, udev's default) or run the server as root", tunPath, user.uid, tunPath)
	}
	ns, err := namespaceFiles(child, pidfd, !asRoot)
	if err != nil {
		return nil, fmt.Errorf("connecting the step's network: %w", err)
	}
	defer closeAll(ns...)
	return h.spawn(ns, user, asRoot)
}

// spawn starts slirp4netns on the namespaces ns and waits until it is
// ready.
func (h netHelper) spawn(ns []*os.File, user hostUser, asRoot bool) (*slirp, error) {
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("connecting the step's network: %w", err)
	}
	defer closeAll(readyR, readyW)
	exitR, exitW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("connecting the step's network: %w", err)
	}
	s := &slirp{exitW: exitW, done: make(chan error, 1), out: &tailWriter{}}
	s.cmd = h.command(append([]*os.File{readyW, exitR}, ns...), s.out, user, asRoot)
	err = startOnSpawner(s.cmd)
	closeAll(exitR)
	if err != nil {
		closeAll(exitW)
		return nil, fmt.Errorf("starting slirp4netns: %w", err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	closeAll(readyW)
	if err := s.waitReady(readyR); err != nil {
		s.stop() // and its output is all there
		return nil, fmt.Errorf("slirp4netns could not connect the step's network namespace: %w (%s)",
			err, strings.TrimSpace(s.out.String()))
	}
	return s, nil
}

// command is slirp4netns's command line. files are descriptors 3 (ready),
// 4 (exit), 5 (the network namespace) and, to join it, 6 (the user
// namespace owning the network namespace).
func (h netHelper) command(files []*os.File, out io.Writer, user hostUser, asRoot bool) *exec.Cmd {
	args := []string{"--configure", "--mtu=65520", "--disable-host-loopback", "--enable-seccomp",
		"--ready-fd=3", "--exit-fd=4", "--netns-type=path"}
	if len(files) > 3 {
		args = append(args, "--userns-path=/proc/self/fd/6")
	}
	if asRoot {
		// Not as the step's user: slirp4netns (1.2) then joins the user
		// namespace of a pid only, not the one --userns-path names, and
		// fails to become its root.
		args = append(args, "--enable-sandbox")
	}
	cmd := exec.Command(h.path, append(args, "/proc/self/fd/5", "tap0")...)
	cmd.Env = []string{"LANG=C"}
	cmd.Dir = "/"
	cmd.Stdout, cmd.Stderr = out, out
	cmd.ExtraFiles = files
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if !asRoot && !user.self() {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(user.uid), Gid: uint32(user.gid)}
	}
	return cmd
}

// namespaceFiles opens the child's network namespace and, with userns,
// the user namespace that owns it. The child being alive afterwards proves
// its pid was not reused meanwhile: the namespaces are the step's.
func namespaceFiles(child, pidfd int, userns bool) ([]*os.File, error) {
	netns, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", child))
	if err != nil {
		return nil, err
	}
	files := []*os.File{netns}
	if userns {
		fd, err := unix.IoctlRetInt(int(netns.Fd()), unix.NS_GET_USERNS)
		if err != nil {
			closeAll(netns)
			return nil, fmt.Errorf("finding the owner of the step's network namespace: %w", err)
		}
		files = append(files, os.NewFile(uintptr(fd), "userns"))
	}
	if err := unix.PidfdSendSignal(pidfd, 0, nil, 0); err != nil {
		closeAll(files...)
		return nil, fmt.Errorf("the sandbox process %d ended: %w", child, err)
	}
	return files, nil
}

// waitSetUp waits until bwrap's sandboxed child has finished its setup,
// bringing up the loopback interface among other things (slirp4netns
// configuring the namespace at the same time makes that fail): it then
// blocks reading its start pipe, descriptor 4, until released.
func waitSetUp(child, pidfd int) error {
	want := fmt.Sprintf("%d 0x4 ", unix.SYS_READ)
	deadline := time.Now().Add(slirpTimeout)
	for delay := 20 * time.Microsecond; ; delay = min(2*delay, 5*time.Millisecond) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/syscall", child))
		switch {
		case err != nil:
			return fmt.Errorf("waiting for the sandbox to be set up: %w", err)
		case strings.HasPrefix(string(b), want):
			return nil
		case unix.PidfdSendSignal(pidfd, 0, nil, 0) != nil:
			return fmt.Errorf("the sandbox process %d ended during its setup", child)
		case time.Now().After(deadline):
			return fmt.Errorf("the sandbox was not set up after %v", slirpTimeout)
		}
		time.Sleep(delay)
	}
}

// tunUsableBy reports whether user may open /dev/net/tun.
func tunUsableBy(user hostUser) bool {
	var st unix.Stat_t
	if err := unix.Stat(tunPath, &st); err != nil {
		return false
	}
	switch {
	case int(st.Uid) == user.uid:
		return st.Mode&0o600 == 0o600
	case int(st.Gid) == user.gid:
		return st.Mode&0o060 == 0o060
	}
	return st.Mode&0o006 == 0o006
}

// waitReady waits for slirp4netns to report the interface configured.
func (s *slirp) waitReady(readyR *os.File) error {
	ready := make(chan error, 1)
	go func() {
		b := make([]byte, 1)
		_, err := readyR.Read(b)
		ready <- err
	}()
	timer := time.NewTimer(slirpTimeout)
	defer timer.Stop()
	var err error
	select {
	case err = <-ready:
	case err = <-s.done:
		s.done <- err // for stop
		err = errors.Join(errors.New("it exited"), err)
	case <-timer.C:
		err = fmt.Errorf("not ready after %v", slirpTimeout)
	}
	return err
}

// stop ends slirp4netns: closing the exit pipe asks it to, a kill follows
// if it has not after killGrace.
func (s *slirp) stop() {
	if s == nil {
		return
	}
	closeAll(s.exitW)
	t := time.AfterFunc(killGrace, func() { _ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL) })
	defer t.Stop()
	<-s.done
}

// tailWriter keeps the last tailSize bytes written to it.
type tailWriter struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > tailSize {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-tailSize:]...)
	}
	return len(p), nil
}

func (t *tailWriter) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
