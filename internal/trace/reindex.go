package trace

import (
	"context"
	"fmt"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/lineage"
	"github.com/kilnbuild/kiln/internal/registry"
)

// ReindexResult says what a reindex did.
type ReindexResult struct {
	Records map[string]int `json:"records"`
	// Removed counts records whose object is gone.
	Removed int `json:"removed"`
	// Failed lists what could not be indexed, with why.
	Failed []string      `json:"failed,omitempty"`
	Stats  lineage.Stats `json:"stats"`
}

// Reindex rebuilds the index from the stored objects, the attestations in
// the registry and the kept imports: every record is derived and replaced
// again (the index stays usable meanwhile), then records whose object is
// gone are removed.
func (ix *Indexer) Reindex(ctx context.Context) (*ReindexResult, error) {
	res := &ReindexResult{Records: map[string]int{}}
	seen := map[lineage.RecordKey]bool{}
	for _, kind := range []string{"Build", "Snapshot", "Release"} {
		if err := ix.reindexKind(ctx, kind, res, seen); err != nil {
			return res, err
		}
	}
	if err := ix.reindexImports(ctx, res, seen); err != nil {
		return res, err
	}
	indexed, err := ix.Index.Records(ctx, "")
	if err != nil {
		return res, err
	}
	var stale []lineage.RecordKey
	for _, k := range indexed {
		if !seen[k] {
			stale = append(stale, k)
		}
	}
	if err := ix.Index.Delete(ctx, stale...); err != nil {
		return res, err
	}
	res.Removed = len(stale)
	res.Stats, err = ix.Index.Stats(ctx)
	return res, err
}

func (ix *Indexer) reindexKind(ctx context.Context, kind string, res *ReindexResult, seen map[lineage.RecordKey]bool) error {
	opts := registry.ListOptions{Limit: 500}
	for {
		page, err := ix.Registry.List(ctx, v1alpha1.MustLookup(kind), opts)
		if err != nil {
			return fmt.Errorf("listing %s: %w", kind, err)
		}
		for _, obj := range page.Items {
			rec, ok, err := ix.recordOf(ctx, obj)
			switch {
			case err != nil:
				res.Failed = append(res.Failed, fmt.Sprintf("%s %s/%s: %v", kind, obj.GetNamespace(), obj.GetName(), err))
				seen[recordKey(kind, obj.GetNamespace(), obj.GetName())] = true // keep what was indexed
			case ok:
				if err := ix.Index.Apply(ctx, rec); err != nil {
					return err
				}
				seen[rec.Key] = true
				res.Records[kind]++
			}
		}
		if opts.Continue = page.Continue; opts.Continue == "" {
			return nil
		}
	}
}

// recordOf derives the record of an object; ok is false for objects that
// assert nothing (builds and releases that did not succeed).
func (ix *Indexer) recordOf(ctx context.Context, obj v1alpha1.Object) (lineage.Record, bool, error) {
	switch o := obj.(type) {
	case *v1alpha1.Build:
		if o.Status.Phase != v1alpha1.BuildSucceeded {
			return lineage.Record{}, false, nil
		}
		rec, err := ix.BuildRecord(ctx, o)
		return rec, err == nil, err
	case *v1alpha1.Snapshot:
		return snapshotRecord(o), true, nil
	case *v1alpha1.Release:
		if o.Status.Phase != v1alpha1.ReleaseSucceeded {
			return lineage.Record{}, false, nil
		}
		rec, err := ix.ReleaseRecord(ctx, o)
		return rec, err == nil, err
	}
	return lineage.Record{}, false, nil
}

func (ix *Indexer) reindexImports(ctx context.Context, res *ReindexResult, seen map[lineage.RecordKey]bool) error {
	reqs, err := ix.keptImports()
	if err != nil {
		return err
	}
	for _, req := range reqs {
		rec, _, err := ix.importRecord(ctx, req)
		if err != nil {
			res.Failed = append(res.Failed, fmt.Sprintf("import %s/%s: %v", req.Namespace, req.Artifact, err))
			continue
		}
		if err := ix.Index.Apply(ctx, rec); err != nil {
			return err
		}
		seen[rec.Key] = true
		res.Records[recordImport]++
	}
	return nil
}
