package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// source is something a step's bwrap binds from: the generated /etc, the
// image root (both bound by path below them) or a Mount's source. Each is
// opened by the server, checked by what the descriptor really is, and
// bound by that descriptor (stage.go): a symbolic link a step swaps into
// the path after the checks is never followed.
type source struct {
	path string // host path: symlinks resolved by the server, or below within
	// within, for a Mount with Within: the directory (symlinks resolved)
	// path is opened beneath, one real directory at a time.
	within string
	// check, for a Mount: what the opened source must pass.
	check func(f *os.File) error
}

func (s source) isMount() bool { return s.check != nil }

// openChecked opens the source as an O_PATH descriptor and checks it.
func (s source) openChecked() (*os.File, error) {
	f, err := s.open()
	if err != nil || s.check == nil {
		return f, err
	}
	if err := s.check(f); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func (s source) open() (*os.File, error) {
	if s.within == "" {
		return openPath(s.path)
	}
	dir, err := openPath(s.within)
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	rel, err := filepath.Rel(s.within, s.path)
	if err != nil {
		return nil, err
	}
	return openBeneath(dir, rel, s.path)
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

// openBeneath opens rel, a local path, below the directory dir one
// component at a time, each a real directory opened relative to the one
// before (O_NOFOLLOW|O_DIRECTORY): a symbolic link anywhere on the way,
// even one staying inside, is an error naming it, and nothing outside
// dir is reached. name is the full path, for errors.
func openBeneath(dir *os.File, rel, name string) (*os.File, error) {
	cur, err := unix.Openat(int(dir.Fd()), ".", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("opening %s to mount it: %w", dir.Name(), err)
	}
	walked := dir.Name()
	for _, part := range strings.Split(filepath.ToSlash(rel), "/") {
		if part == "." || part == "" {
			continue
		}
		walked = filepath.Join(walked, part)
		next, err := unix.Openat(cur, part, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			err = fmt.Errorf("mount %s: %w", name, explainBeneath(cur, part, walked, dir.Name(), err))
		}
		_ = unix.Close(cur)
		if err != nil {
			return nil, err
		}
		cur = next
	}
	return os.NewFile(uintptr(cur), name), nil
}

// explainBeneath says why the component part of walked could not be
// opened as a directory.
func explainBeneath(dirfd int, part, walked, within string, err error) error {
	var st unix.Stat_t
	if unix.Fstatat(dirfd, part, &st, unix.AT_SYMLINK_NOFOLLOW) == nil {
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFLNK:
			return fmt.Errorf("%s is a symbolic link: Kiln never reaches a mount source through a link "+
				"(make it a real directory inside %s)", walked, within)
		case unix.S_IFDIR:
		default:
			return fmt.Errorf("%s is not a directory: mount sources inside %s must be directories", walked, within)
		}
	}
	return fmt.Errorf("opening %s inside %s: %w", walked, within, err)
}

// fdPath is the host path of what f is open on.
func fdPath(f *os.File) (string, error) {
	p, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", f.Fd()))
	if err != nil {
		return "", fmt.Errorf("finding what %s is: %w", f.Name(), err)
	}
	return p, nil
}

// mountSource checks a step's mount and says how its source is opened:
// by its path with symlinks resolved here (a path the server chose), or
// with Within, below Within without following any link (a path in a
// directory steps write to).
func (b *Bubblewrap) mountSource(m Mount, user hostUser) (source, error) {
	if err := checkTarget(m); err != nil {
		return source{}, err
	}
	check := func(f *os.File) error { return b.checkOpened(m, f, user) }
	if m.Within == "" {
		src, err := filepath.EvalSymlinks(m.Source)
		if err != nil {
			return source{}, fmt.Errorf("mount %s: %w", m.Source, err)
		}
		return source{path: src, check: check}, nil
	}
	rel, err := filepath.Rel(m.Within, m.Source)
	if err != nil || !filepath.IsAbs(m.Within) || !filepath.IsLocal(rel) && rel != "." {
		return source{}, fmt.Errorf("mount %s: not a path inside %s", m.Source, m.Within)
	}
	within, err := filepath.EvalSymlinks(m.Within)
	if err != nil {
		return source{}, fmt.Errorf("mount %s: %w", m.Source, err)
	}
	return source{path: filepath.Join(within, rel), within: within, check: check}, nil
}

// checkOpened checks the source of m by what f really is: not on a kernel
// filesystem, not a protected path nor around or inside one, and, when
// writable, writable by the step's host user.
func (b *Bubblewrap) checkOpened(m Mount, f *os.File, user hostUser) error {
	real, err := fdPath(f)
	if err != nil {
		return fmt.Errorf("mount %s: %w", m.Source, err)
	}
	var fs unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &fs); err != nil {
		return fmt.Errorf("mount %s: %w", m.Source, err)
	}
	if err := checkKernelFS(real, &fs); err != nil {
		return fmt.Errorf("mount %s: %w", m.Source, err)
	}
	if err := b.checkProtectedSource(m, real); err != nil {
		return err
	}
	if !m.Writable || user.self() {
		return nil
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return fmt.Errorf("mount %s: %w", m.Source, err)
	}
	return checkWritable(real, &st, user)
}

// checkTarget refuses relative paths, mounts over the root and into the
// step's /proc, /sys and /dev.
func checkTarget(m Mount) error {
	if !filepath.IsAbs(m.Source) || !filepath.IsAbs(m.Target) {
		return fmt.Errorf("mount %s -> %s: paths must be absolute", m.Source, m.Target)
	}
	target := filepath.Clean(m.Target)
	if target == "/" {
		return fmt.Errorf("mount %s -> /: cannot replace the root filesystem", m.Source)
	}
	for _, d := range kernelDirs {
		if within(target, d) {
			return fmt.Errorf("mount %s -> %s: %s belongs to the sandbox; mount elsewhere", m.Source, target, d)
		}
	}
	return nil
}

// checkProtectedSource refuses a source that is, contains or lies inside
// a protected path.
func (b *Bubblewrap) checkProtectedSource(m Mount, src string) error {
	for _, p := range b.protected {
		if within(src, p) || within(p, src) {
			return fmt.Errorf("mount %s would expose protected path %s: mount a directory "+
				"outside the server's data directory", m.Source, p)
		}
	}
	return nil
}

// checkWritable refuses a writable mount whose source the step's host user
// cannot write: the step would fail on its first write.
func checkWritable(source string, st *unix.Stat_t, user hostUser) error {
	mode := st.Mode
	if int(st.Uid) == user.uid && mode&0o200 != 0 || int(st.Gid) == user.gid && mode&0o020 != 0 || mode&0o002 != 0 {
		return nil
	}
	return fmt.Errorf("mount %s is writable but its owner is uid %d, not the step's host user %d: "+
		"run the steps through a sandbox Lease and give it the directory with Lease.Own", source, st.Uid, user.uid)
}
