package sandbox

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// The spawner thread never is the main thread, whose namespaces /proc/self
// shows every reader in the process: as root the spawner enters its own
// mount namespace, and a mount table read through /proc/self would then
// miss every mount made since.
func TestSpawnerIsNeverTheMainThread(t *testing.T) {
	var tid int
	onSpawner(func() { tid = unix.Gettid() })
	if tid == os.Getpid() {
		t.Fatalf("the spawner runs on the main thread (tid %d = pid)", tid)
	}
	onSpawner(func() {
		if got := unix.Gettid(); got != tid {
			t.Errorf("the spawner moved threads: %d, then %d", tid, got)
		}
	})
}
