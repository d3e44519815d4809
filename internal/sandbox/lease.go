package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"
)

// hostUser is the host user bwrap, and so the step, runs as.
type hostUser struct {
	uid, gid int
	pooled   bool // leased from the runner's idPool
}

// self reports whether the user is the server's own: then nothing needs
// to change hands.
func (u hostUser) self() bool { return u.uid == os.Geteuid() }

// Lease lends a host user to one run. As root, it is a fresh uid and gid
// from Options.HostIDs (or Options.HostUID when set); otherwise the
// server's own user, which is unprivileged already.
func (b *Bubblewrap) Lease() (Lease, error) {
	u, err := b.takeUser()
	if err != nil {
		return nil, err
	}
	return &bwrapLease{b: b, user: u}, nil
}

func (b *Bubblewrap) takeUser() (hostUser, error) {
	switch {
	case b.opts.HostUID != 0:
		uid, gid := b.opts.HostUID, b.opts.HostGID
		if gid == 0 {
			gid = uid
		}
		return hostUser{uid: uid, gid: gid}, nil
	case os.Geteuid() != 0:
		return hostUser{uid: os.Geteuid(), gid: os.Getegid()}, nil
	}
	id, err := b.pool.take()
	return hostUser{uid: id, gid: id, pooled: true}, err
}

// bwrapLease is a Lease of a Bubblewrap runner.
type bwrapLease struct {
	b        *Bubblewrap
	user     hostUser
	mu       sync.Mutex
	owned    []string // what Own gave, to give back
	released bool
	running  sync.WaitGroup // steps in progress; Release waits for them
}

var _ Lease = (*bwrapLease)(nil)
var _ Enforcer = (*bwrapLease)(nil)

func (l *bwrapLease) Name() string { return l.b.Name() }

func (l *bwrapLease) HostUser() (int, int) { return l.user.uid, l.user.gid }

// Enforcement is the runner's, naming the lease's user.
func (l *bwrapLease) Enforcement() Enforcement {
	e := l.b.Enforcement()
	e.HostUser = fmt.Sprintf("uid %d", l.user.uid)
	return e
}

// Run runs a step as the lease's user.
func (l *bwrapLease) Run(ctx context.Context, step Step) (Result, error) {
	l.mu.Lock()
	if l.released {
		l.mu.Unlock()
		return Result{}, errors.New("running a step: the sandbox lease was released")
	}
	l.running.Add(1)
	l.mu.Unlock()
	defer l.running.Done()
	return l.b.run(ctx, step, l.user)
}

// Own chowns the server's entries under path (path included) to the
// lease's user. It does not cross into other filesystems and leaves alone
// files with several links (one could be a server file linked in) and
// entries of other users.
func (l *bwrapLease) Own(path string) error {
	if l.user.self() {
		return nil
	}
	root, err := filepath.EvalSymlinks(path)
	if err != nil {
		return fmt.Errorf("giving %s to the sandbox user: %w", path, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.released {
		return fmt.Errorf("giving %s to the sandbox user: the lease was released", path)
	}
	l.owned = append(l.owned, root)
	err = chownTree(root, os.Geteuid(), l.user.uid, l.user.gid, true)
	return wrapErr(fmt.Sprintf("giving %s to sandbox user %d", path, l.user.uid), err)
}

// Release waits for the lease's steps to end, chowns everything its user
// owns under the owned paths back to the server, and returns the user to
// the pool. Files a step created thus belong to the server afterwards, and
// the released uid owns nothing.
func (l *bwrapLease) Release() error {
	l.mu.Lock()
	if l.released {
		l.mu.Unlock()
		return nil
	}
	l.released = true
	l.mu.Unlock()
	l.running.Wait()
	var errs []error
	if !l.user.self() {
		for _, root := range l.owned {
			err := chownTree(root, l.user.uid, os.Geteuid(), os.Getegid(), false)
			errs = append(errs, wrapErr(fmt.Sprintf("taking %s back from sandbox user %d", root, l.user.uid), err))
		}
	}
	if l.user.pooled {
		l.b.pool.put(l.user.uid)
	}
	return errors.Join(errs...)
}

// chownTree changes the owner of the entries under root owned by from to
// uid:gid, without following symlinks or crossing into another filesystem.
// With single, regular files with more than one link are left alone.
func chownTree(root string, from, uid, gid int, single bool) error {
	var dev uint64
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // removed meanwhile
		}
		if err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(path, &st); err != nil {
			return ignoreGone(err)
		}
		if path == root {
			dev = st.Dev
		} else if st.Dev != dev {
			return skipEntry(d)
		}
		if int(st.Uid) != from || (single && d.Type().IsRegular() && st.Nlink > 1) {
			return nil
		}
		return ignoreGone(unix.Lchown(path, uid, gid))
	})
}

func skipEntry(d fs.DirEntry) error {
	if d.IsDir() {
		return filepath.SkipDir
	}
	return nil
}

func ignoreGone(err error) error {
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	return err
}
