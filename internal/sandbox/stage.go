package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// As root, bwrap runs as a leased sandbox user, and it resolves every bind
// source as that user (realpath, before mounting; --bind-fd sources too).
// The server's data directory and the directories above it need not be
// searchable by that user (a test's t.TempDir is 0700), so the sources are
// staged: the spawner thread, from which every bwrap is forked, has its own
// mount namespace (a slave of the host's), where each step's sources are
// opened (source.go), checked, and bound by descriptor under a tmpfs only
// that namespace sees, at paths the sandbox user can search. bwrap
// inherits that namespace and binds from there. The host's mount table
// never changes, and the namespace dies with the server.

// privateNS is the spawner thread's mount namespace, made once.
var privateNS struct {
	once sync.Once
	err  error
}

// enterPrivateNS gives the spawner thread its own mount namespace; call it
// on the spawner thread.
func enterPrivateNS() error {
	privateNS.once.Do(func() {
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			privateNS.err = fmt.Errorf("creating the sandbox's staging mount namespace: %w", err)
			return
		}
		err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SLAVE, "")
		privateNS.err = wrapErr("making the staging mount namespace a slave of the host's", err)
	})
	return privateNS.err
}

// stage is a runner's staging directory: a tmpfs mounted in the spawner
// thread's namespace on dir (an empty directory on the host).
type stage struct {
	dir  string
	next atomic.Int64
}

// newStage mounts the staging tmpfs on base/stage; base must be searchable
// by every sandbox user.
func newStage(base string) (*stage, error) {
	dir := filepath.Join(base, "stage")
	if err := os.Mkdir(dir, 0o711); err != nil {
		return nil, fmt.Errorf("creating the sandbox's staging directory: %w", err)
	}
	var err error
	onSpawner(func() {
		if err = enterPrivateNS(); err == nil {
			err = unix.Mount("kiln-stage", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=0711,size=1m")
		}
	})
	if err != nil {
		return nil, fmt.Errorf("mounting the sandbox's staging directory: %w", err)
	}
	return &stage{dir: dir}, nil
}

// close unmounts the staging tmpfs.
func (s *stage) close() error {
	if s == nil {
		return nil
	}
	var err error
	onSpawner(func() { err = unix.Unmount(s.dir, unix.MNT_DETACH) })
	return wrapErr("unmounting the sandbox's staging directory", err)
}

// mountFD is the first descriptor of the mount sources bwrap binds with
// --bind-fd (without a stage); 3, 4 and 5 are its status, start and
// seccomp pipes.
const mountFD = seccompFD + 1

// staged is one step's sources, each opened and checked on the spawner
// thread and then bound by its descriptor under the stage; without a
// stage, a Mount's descriptor is kept for bwrap's --bind-fd instead, and
// the generated /etc and the image root are bound by their host paths.
type staged struct {
	dir    string // the step's directory in the stage; "" without a stage
	srcs   []source
	at     []string   // where srcs[i] is bound from: its mount point in the stage, or its host path
	fds    []int      // the descriptor bwrap binds srcs[i] from (--bind-fd), or -1
	files  []*os.File // those descriptors, numbered from mountFD
	mounts []string   // mount points in the stage, to unmount
}

// bind opens, checks and stages each source. A nil stage stages nothing.
func (s *stage) bind(srcs []source) (*staged, error) {
	st := &staged{srcs: srcs}
	if s != nil {
		st.dir = filepath.Join(s.dir, strconv.FormatInt(s.next.Add(1), 10))
	}
	var err error
	onSpawner(func() { err = st.addAll() })
	if err != nil {
		st.remove()
		return nil, err
	}
	return st, nil
}

// addAll runs on the spawner thread: a descriptor can be bind-mounted
// only in the mount namespace it was opened in.
func (st *staged) addAll() error {
	if st.dir != "" {
		if err := os.Mkdir(st.dir, 0o711); err != nil {
			return fmt.Errorf("staging mount sources: %w", err)
		}
	}
	for i, src := range st.srcs {
		if err := st.add(i, src); err != nil {
			return err
		}
	}
	return nil
}

func (st *staged) add(i int, src source) error {
	if st.dir == "" && !src.isMount() {
		st.at, st.fds = append(st.at, src.path), append(st.fds, -1)
		return nil
	}
	f, err := src.openChecked()
	if err != nil {
		return err
	}
	if st.dir == "" {
		st.at, st.fds = append(st.at, src.path), append(st.fds, mountFD+len(st.files))
		st.files = append(st.files, f)
		return nil
	}
	defer f.Close()
	mp := filepath.Join(st.dir, strconv.Itoa(i))
	if err := bindFD(f, mp); err != nil {
		return fmt.Errorf("staging %s: %w", src.path, err)
	}
	st.mounts, st.at, st.fds = append(st.mounts, mp), append(st.at, mp), append(st.fds, -1)
	return nil
}

// bindFD binds what f is open on at a new mount point mp. The kernel
// follows /proc/self/fd/N to the very mount and dentry f holds: no path
// is resolved again, so nothing swapped in since f was opened is bound.
func bindFD(f *os.File, mp string) error {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return err
	}
	var err error
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		err = os.Mkdir(mp, 0o700)
	} else {
		err = os.WriteFile(mp, nil, 0o600)
	}
	if err != nil {
		return err
	}
	return unix.Mount(fmt.Sprintf("/proc/self/fd/%d", f.Fd()), mp, "", unix.MS_BIND, "")
}

// path is where p, the generated /etc, the image root or a path under
// one of them, is bound from.
func (st *staged) path(p string) string {
	best, out := -1, p
	for i, src := range st.srcs {
		rel, ok := strings.CutPrefix(p, src.path)
		if !src.isMount() && ok && (rel == "" || strings.HasPrefix(rel, "/")) && len(src.path) > best {
			best, out = len(src.path), st.at[i]+rel
		}
	}
	return out
}

// mountArgs are the bwrap arguments binding srcs[i] at dst: by its staged
// path, or by descriptor without a stage.
func (st *staged) mountArgs(i int, dst string, writable bool) []string {
	flag := "--ro-bind"
	if writable {
		flag = "--bind"
	}
	if st.fds[i] >= 0 {
		return []string{flag + "-fd", strconv.Itoa(st.fds[i]), dst}
	}
	return []string{flag, st.at[i], dst}
}

// passed gives up the descriptors bwrap was started with (it holds its
// own copies).
func (st *staged) passed() {
	if st != nil {
		closeAll(st.files...)
		st.files = nil
	}
}

// remove unmounts the step's staged sources and closes its descriptors.
func (st *staged) remove() {
	if st == nil {
		return
	}
	st.passed()
	if st.dir == "" {
		return
	}
	onSpawner(func() {
		for _, mp := range st.mounts {
			_ = unix.Unmount(mp, unix.MNT_DETACH)
		}
		_ = os.RemoveAll(st.dir)
	})
	st.dir = ""
}
