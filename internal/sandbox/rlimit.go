package sandbox

import (
	"errors"
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// rlimits are the resource limits set on the sandboxed child before it runs
// the step; its descendants inherit them. Core dumps are always off. Without
// cgroups, RLIMIT_AS bounds each process's address space (not the step's
// total) and RLIMIT_NPROC the number of tasks of the step's user: it binds
// only when that user is not host root.
func rlimits(lim Limits, cgroups bool) map[int]uint64 {
	r := map[int]uint64{unix.RLIMIT_CORE: 0}
	if !cgroups {
		r[unix.RLIMIT_AS] = uint64(lim.Memory)
		r[unix.RLIMIT_NPROC] = uint64(lim.Processes)
	}
	return r
}

// setRlimits sets limits on pid. Setting them on another user's process needs
// CAP_SYS_RESOURCE; without it, when bwrap runs as hostUID, they are set from
// a thread that takes on that user's ids.
func setRlimits(pid, hostUID, hostGID int, limits map[int]uint64) error {
	err := prlimits(pid, limits)
	if errors.Is(err, unix.EPERM) && hostUID != 0 && hostUID != unix.Geteuid() {
		err = prlimitsAs(hostUID, hostGID, pid, limits)
	}
	return err
}

func prlimits(pid int, limits map[int]uint64) error {
	for res, v := range limits {
		l := unix.Rlimit{Cur: v, Max: v}
		if err := unix.Prlimit(pid, res, &l, nil); err != nil {
			return fmt.Errorf("setting resource limit %d on sandbox process %d: %w", res, pid, err)
		}
	}
	return nil
}

// prlimitsAs runs prlimits on a locked OS thread whose real and effective
// ids become uid and gid for the call; Linux credentials are per thread and
// the raw system calls change only this one. The saved ids stay the
// server's (root's), so the thread can return to them and to the pool; if it
// cannot, it is left locked and the runtime destroys it with the goroutine.
func prlimitsAs(uid, gid, pid int, limits map[int]uint64) error {
	done := make(chan error, 1)
	ruid, rgid := unix.Getuid(), unix.Getgid()
	go func() {
		runtime.LockOSThread()
		err := setThreadIDs(uid, gid, false)
		if err == nil {
			err = prlimits(pid, limits)
		}
		if rerr := setThreadIDs(ruid, rgid, true); rerr != nil {
			done <- errors.Join(err, rerr)
			return // stays locked: the thread is discarded
		}
		runtime.UnlockOSThread()
		done <- err
	}()
	return <-done
}

// setThreadIDs sets the calling thread's real and effective ids, keeping the
// saved ones (root's). Returning to root, the uid is restored first to regain
// the capability to change the gid; leaving root, the gid is changed first.
func setThreadIDs(uid, gid int, restoring bool) error {
	setuid := func() error { return rawSetres(unix.SYS_SETRESUID, uid) }
	setgid := func() error { return rawSetres(unix.SYS_SETRESGID, gid) }
	first, second := setgid, setuid
	if restoring {
		first, second = setuid, setgid
	}
	if err := first(); err != nil {
		return err
	}
	return second()
}

func rawSetres(call uintptr, id int) error {
	if _, _, e := unix.RawSyscall(call, uintptr(id), uintptr(id), ^uintptr(0)); e != 0 {
		return fmt.Errorf("setting thread ids to %d: %w", id, e)
	}
	return nil
}
