package sandbox

import (
	"os/exec"
	"runtime"
	"sync"
)

// bwrap's --die-with-parent (PR_SET_PDEATHSIG) fires when the thread that
// forked bwrap exits, not the process, and the Go runtime does end threads
// (a goroutine that exits while locked to its thread takes the thread with
// it). So every bwrap is forked from one locked thread that lives as long as
// the server.
var (
	spawnOnce sync.Once
	spawnReq  chan spawnRequest
)

type spawnRequest struct {
	cmd  *exec.Cmd
	done chan error
}

// startOnSpawner starts cmd from the spawner thread.
func startOnSpawner(cmd *exec.Cmd) error {
	spawnOnce.Do(func() {
		spawnReq = make(chan spawnRequest)
		go spawner()
	})
	req := spawnRequest{cmd: cmd, done: make(chan error, 1)}
	spawnReq <- req
	return <-req.done
}

func spawner() {
	runtime.LockOSThread() // never unlocked: this goroutine never returns
	for req := range spawnReq {
		req.done <- req.cmd.Start()
	}
}
