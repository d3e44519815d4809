package executor

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// PurgeNamespace deletes what builds and runs of namespace ns left on
// this server's disk: unpacked step images, composed buildroots, work
// directories and kept evidence. It first stops the namespace's builds and runs still in
// progress, and fails while they are stopping (call it again). It is
// idempotent.
func (e *Executor) PurgeNamespace(ctx context.Context, ns string) error {
	if err := e.Runs.PurgeNamespace(ctx, ns); err != nil {
		return err
	}
	var dirs []string
	if e.WorkDir != "" {
		dirs = append(dirs, filepath.Join(e.WorkDir, "builds", ns))
	}
	if e.Attestor != nil && e.Attestor.Dir != "" {
		dirs = append(dirs, evidenceDir(e.Attestor.Dir, ns))
	}
	for _, dir := range dirs {
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("deleting the files of namespace %s: %w", ns, err)
		}
	}
	if e.Buildroots != nil && e.Buildroots.Dir != "" {
		return e.Buildroots.PurgeNamespace(ns)
	}
	return nil
}
