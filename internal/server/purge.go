package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/builder"
	"github.com/kilnbuild/kiln/internal/executor"
	"github.com/kilnbuild/kiln/internal/gc"
	"github.com/kilnbuild/kiln/internal/integration"
	"github.com/kilnbuild/kiln/internal/oci"
	"github.com/kilnbuild/kiln/internal/registry"
	"github.com/kilnbuild/kiln/internal/release"
)

// purgers delete what a deleted namespace owned outside the store, in
// order: its builds and runs are stopped and their files removed first,
// then its registry content, then its logs and published static files.
func (f *Factory) purgers(exec *executor.Executor) []gc.Purger {
	return []gc.Purger{exec, registryPurger{f.oci}, f.fileLayout()}
}

// registryPurger deletes a namespace's repositories from the embedded
// registry.
type registryPurger struct{ reg *oci.Registry }

func (p registryPurger) PurgeNamespace(_ context.Context, ns string) error {
	return p.reg.DeleteNamespace(ns)
}

// namespaceFiles knows where a namespace's logs and static files live.
type namespaceFiles struct{ logs, repos string }

func (f *Factory) fileLayout() namespaceFiles {
	return namespaceFiles{logs: f.dir("logs"), repos: f.dir("repos")}
}

// PurgeNamespace deletes the namespace's build, integration test and
// release logs and its published static files. Build logs are the *.log
// files of LOGS/<ns>/ (that directory is shared with other namespaces'
// test and release logs when ns is "tests" or "releases"); the others are
// whole directories of their own.
func (p namespaceFiles) PurgeNamespace(_ context.Context, ns string) error {
	if err := removeLogFiles(filepath.Dir(builder.LogPath(p.logs, ns, "_"))); err != nil {
		return fmt.Errorf("deleting the build logs of namespace %s: %w", ns, err)
	}
	dirs := []string{
		filepath.Dir(filepath.Dir(integration.LogPath(p.logs, ns, "_", "_"))),
		filepath.Dir(release.LogPath(p.logs, ns, "_")),
		filepath.Join(p.repos, ns),
	}
	for _, dir := range dirs {
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("deleting the files of namespace %s: %w", ns, err)
		}
	}
	return nil
}

// removeLogFiles removes the regular *.log files directly in dir, then dir
// itself if nothing else is left in it.
func removeLogFiles(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasSuffix(e.Name(), ".log") {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	err = os.Remove(dir)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST) {
		return nil // gone, or other namespaces' logs live below it
	}
	return err
}

// writable refuses pushes and deletions in the embedded registry for a
// namespace that does not exist or is being deleted: nothing may land in a
// namespace after (or while) its data is deleted.
func (f *Factory) writable(ctx context.Context, ns string, a oci.Action) error {
	if a != oci.ActionPush && a != oci.ActionDelete {
		return nil
	}
	obj, err := f.Registry.Get(ctx, v1alpha1.MustLookup("Namespace"), "", ns, registry.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return fmt.Errorf("%w: namespace %s does not exist: create it before pushing to it", oci.ErrForbidden, ns)
	case err != nil:
		return err
	case obj.GetDeletionTimestamp() != nil:
		return fmt.Errorf("%w: namespace %s is being deleted: nothing can be pushed to it", oci.ErrForbidden, ns)
	}
	return nil
}
