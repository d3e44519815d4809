package server

import (
	"github.com/kilnbuild/kiln/internal/apiserver"
	"github.com/kilnbuild/kiln/internal/build"
	"github.com/kilnbuild/kiln/internal/controller"
	"github.com/kilnbuild/kiln/internal/registry"
	"github.com/kilnbuild/kiln/internal/trace"
)

// wireTrace registers the trace indexer (builds, snapshots, releases →
// the lineage index in the store's database) and serves the trace API.
func (f *Factory) wireTrace(api *apiserver.Server, mgr *controller.Manager, reg *registry.Registry, exec *build.PipelineExecutor) error {
	idx, err := trace.IndexOf(f.Store)
	if err != nil {
		return err
	}
	ix := &trace.Indexer{
		Registry: reg, Index: idx, Remote: exec.RemoteFor, ImportDir: f.dir("evidence"),
		EvidencePath: func(ns, name, file string) string { return build.EvidencePath(f.dir("evidence"), ns, name, file) },
		BuilderKey:   f.signer.PublicKey(), BuilderKeyID: build.KeyID(f.signer), BuilderID: f.cfg.BuilderID, Log: f.cfg.Log,
	}
	ix.Register(mgr)
	api.MountTrace(trace.Service{Engine: &trace.Engine{Index: idx}, Indexer: ix})
	return nil
}
