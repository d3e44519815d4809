package server

import (
	"github.com/kilnbuild/kiln/internal/apiserver"
	"github.com/kilnbuild/kiln/internal/executor"
	"github.com/kilnbuild/kiln/internal/registry"
	"github.com/kilnbuild/kiln/internal/trace"
)

// wireTrace serves the trace API and returns the trace indexer (builds,
// snapshots, releases → the lineage index in the store's database) for
// the server to register with its other controllers.
func (f *Factory) wireTrace(api *apiserver.Server, reg *registry.Registry, exec *executor.Executor) (registrar, error) {
	idx, err := trace.IndexOf(f.Store)
	if err != nil {
		return nil, err
	}
	ix := &trace.Indexer{
		Registry: reg, Index: idx, Remote: exec.Runs.RemoteFor, ImportDir: f.shared("evidence"),
		EvidencePath: func(ns, name, file string) string { return executor.EvidencePath(f.shared("evidence"), ns, name, file) },
		BuilderKey:   f.signer.PublicKey(), BuilderKeyID: f.signer.KeyID(), BuilderID: f.cfg.BuilderID, Log: f.cfg.Log,
	}
	api.MountTrace(trace.Service{Engine: &trace.Engine{Index: idx}, Indexer: ix})
	return ix, nil
}
