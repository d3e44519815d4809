package sandbox

import (
	"errors"
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
// bound under a tmpfs only that namespace sees, at paths the sandbox user
// can search. bwrap inherits that namespace and binds from there. The
// host's mount table never changes, and the namespace dies with the server.

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

// staged is one step's staged sources.
type staged struct {
	dir    string
	paths  map[string]string // source (a host path) -> where it is staged
	mounts []string
}

// bind stages each source (a path without symlinks, opened with
// RESOLVE_NO_SYMLINKS so that nothing swapped in since is followed). A nil
// stage stages nothing: paths stay the host's.
func (s *stage) bind(sources []string) (*staged, error) {
	st := &staged{paths: map[string]string{}}
	if s == nil {
		return st, nil
	}
	st.dir = filepath.Join(s.dir, strconv.FormatInt(s.next.Add(1), 10))
	var err error
	onSpawner(func() { err = st.mount(sources) })
	if err != nil {
		st.remove()
		return nil, err
	}
	return st, nil
}

// mount runs on the spawner thread.
func (st *staged) mount(sources []string) error {
	if err := os.Mkdir(st.dir, 0o711); err != nil {
		return fmt.Errorf("staging mount sources: %w", err)
	}
	for i, src := range sources {
		if _, ok := st.paths[src]; ok {
			continue
		}
		mp := filepath.Join(st.dir, strconv.Itoa(i))
		if err := bindAt(src, mp); err != nil {
			return err
		}
		st.paths[src] = mp
		st.mounts = append(st.mounts, mp)
	}
	return nil
}

// bindAt binds src on a new mount point mp.
func bindAt(src, mp string) error {
	f, err := openPath(src)
	if err != nil {
		return err
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return fmt.Errorf("staging %s: %w", src, err)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		err = os.Mkdir(mp, 0o700)
	} else {
		err = os.WriteFile(mp, nil, 0o600)
	}
	if err == nil {
		err = unix.Mount(fmt.Sprintf("/proc/self/fd/%d", f.Fd()), mp, "", unix.MS_BIND, "")
	}
	return wrapErr("staging "+src, err)
}

// path is where p, a source or a path under one, is staged.
func (st *staged) path(p string) string {
	if st == nil {
		return p
	}
	best, out := -1, p
	for src, mp := range st.paths {
		rel, ok := strings.CutPrefix(p, src)
		if ok && (rel == "" || strings.HasPrefix(rel, "/")) && len(src) > best {
			best, out = len(src), mp+rel
		}
	}
	return out
}

// remove unmounts the step's staged sources.
func (st *staged) remove() {
	if st == nil || st.dir == "" {
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

// openPath opens path as an O_PATH descriptor, refusing symlinks anywhere
// in it.
func openPath(path string) (*os.File, error) {
	fd, err := unix.Openat2(unix.AT_FDCWD, path, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	if errors.Is(err, unix.ENOSYS) { // Linux < 5.6
		fd, err = unix.Open(path, unix.O_PATH|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	}
	if err != nil {
		return nil, fmt.Errorf("opening %s to mount it: %w", path, err)
	}
	return os.NewFile(uintptr(fd), path), nil
}
