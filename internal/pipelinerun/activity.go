package pipelinerun

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// activity tracks the builds and pipeline runs in progress per namespace,
// so that deleting a namespace can stop them before deleting their files.
// The zero value is ready to use.
type activity struct {
	mu   sync.Mutex
	byNS map[string]map[*context.CancelFunc]struct{}
}

// start registers work of namespace ns; cancelling stops it. done
// unregisters it.
func (a *activity) start(ctx context.Context, ns string) (context.Context, func()) {
	ctx, cancel := context.WithCancel(ctx)
	key := &cancel
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.byNS == nil {
		a.byNS = map[string]map[*context.CancelFunc]struct{}{}
	}
	if a.byNS[ns] == nil {
		a.byNS[ns] = map[*context.CancelFunc]struct{}{}
	}
	a.byNS[ns][key] = struct{}{}
	return ctx, func() {
		cancel()
		a.mu.Lock()
		defer a.mu.Unlock()
		delete(a.byNS[ns], key)
		if len(a.byNS[ns]) == 0 {
			delete(a.byNS, ns)
		}
	}
}

// stop cancels the work of namespace ns and reports how much has not
// finished yet.
func (a *activity) stop(ns string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	for cancel := range a.byNS[ns] {
		(*cancel)()
	}
	return len(a.byNS[ns])
}

// Track registers work of namespace ns (a build, or a built-in release
// step): PurgeNamespace cancels it and waits for done.
func (e *Runner) Track(ctx context.Context, ns string) (context.Context, func()) {
	return e.active.start(ctx, ns)
}

// PurgeNamespace deletes what runs of namespace ns left on this server's
// disk: unpacked step images and run directories. It first stops the
// namespace's work still in progress (builds and release steps included),
// and fails while it is stopping (call it again). It is idempotent.
func (e *Runner) PurgeNamespace(_ context.Context, ns string) error {
	if n := e.active.stop(ns); n > 0 {
		return fmt.Errorf("namespace %s: %d builds or pipeline runs are still stopping", ns, n)
	}
	for _, dir := range e.namespaceDirs(ns) {
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("deleting the files of namespace %s: %w", ns, err)
		}
	}
	return nil
}

// namespaceDirs are the directories only namespace ns's runs write to.
func (e *Runner) namespaceDirs(ns string) []string {
	var dirs []string
	if e.ImageCache != "" {
		dirs = append(dirs, e.imageCacheDir(ns))
	}
	if e.WorkDir != "" {
		dirs = append(dirs, filepath.Join(e.WorkDir, "runs", ns))
	}
	return dirs
}
