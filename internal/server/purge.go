package server

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/executor"
	"github.com/kilnbuild/kiln/internal/gc"
	"github.com/kilnbuild/kiln/internal/oci"
	"github.com/kilnbuild/kiln/internal/registry"
)

// purgers delete what a deleted namespace owned outside the store, in
// order: its builds and runs are stopped and their files removed first,
// then its registry content, then its logs, published static files, apt repositories and repository
// signing key.
func (f *Factory) purgers(exec *executor.Executor) []gc.Purger {
	return []gc.Purger{exec, registryPurger{f.oci}, f.logs, staticFiles{f.shared("repos")}, aptFiles{f.shared("apt"), f.apt.Keys}}
}

// registryPurger deletes a namespace's repositories from the embedded
// registry.
type registryPurger struct{ reg *oci.Registry }

func (p registryPurger) PurgeNamespace(_ context.Context, ns string) error {
	return p.reg.DeleteNamespace(ns)
}

// staticFiles are the files releases published to static repositories,
// REPOS/<namespace>/….
type staticFiles struct{ repos string }

// PurgeNamespace deletes the namespace's published static files.
func (p staticFiles) PurgeNamespace(_ context.Context, ns string) error {
	if err := os.RemoveAll(filepath.Join(p.repos, ns)); err != nil {
		return fmt.Errorf("deleting the static files of namespace %s: %w", ns, err)
	}
	return nil
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
