package sandbox

import (
	"os/exec"
	"runtime"
	"sync"

	"golang.org/x/sys/unix"
)

// bwrap's --die-with-parent (PR_SET_PDEATHSIG) fires when the thread that
// forked bwrap exits, not the process, and the Go runtime does end threads
// (a goroutine that exits while locked to its thread takes the thread with
// it). So every bwrap is forked from one locked thread that lives as long as
// the server. As root, that thread also has its own mount namespace, where
// bind sources are staged (stage.go).
var (
	spawnOnce sync.Once
	spawnReq  chan func()
)

// onSpawner runs fn on the spawner thread and waits for it.
func onSpawner(fn func()) {
	spawnOnce.Do(func() {
		spawnReq = make(chan func())
		go spawner()
	})
	done := make(chan struct{})
	spawnReq <- func() {
		defer close(done)
		fn()
	}
	<-done
}

// startOnSpawner starts cmd from the spawner thread.
func startOnSpawner(cmd *exec.Cmd) error {
	var err error
	onSpawner(func() { err = cmd.Start() })
	return err
}

// spawner serves spawnReq on a locked thread other than the main one: the
// main thread's namespaces are what /proc/self shows every reader in the
// process (mount tables, cgroups), so it must stay in the host's. Landed on
// the main thread, it keeps that thread locked and idle (so no retry lands
// there again) and serves from a new goroutine.
func spawner() {
	runtime.LockOSThread() // never unlocked: this goroutine never returns
	if unix.Gettid() == unix.Getpid() {
		go spawner()
		select {}
	}
	for fn := range spawnReq {
		fn()
	}
}
