package trace

import (
	"strconv"
	"strings"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/lineage"
)

// recordSchema changes when the indexer derives records differently, so
// that records indexed by an older version are indexed again.
const recordSchema = "1"

// Record kinds besides the object kinds.
const recordImport = "Import"

func versionOf(rv string) string { return rv + "/" + recordSchema }

func recordKey(kind, ns, name string) lineage.RecordKey {
	return lineage.RecordKey{Kind: kind, Namespace: ns, Name: name}
}

// buildNode is the node of a Kiln Build.
func buildNode(b *v1alpha1.Build) lineage.NodeRef {
	attrs := map[string]string{"component": b.Spec.Component, "phase": b.Status.Phase}
	if b.Status.BuildNumber > 0 {
		attrs["number"] = strconv.FormatInt(b.Status.BuildNumber, 10)
	}
	return lineage.NodeRef{Kind: lineage.KindBuild, Namespace: b.Namespace, Key: b.Name, Attrs: attrs, Owned: true}
}

// buildEdges are what the Build object itself records: the commit (of the
// source URL the kept provenance names), pipeline, step images, inputs,
// the build whose artifact a cache hit reused, and the outputs.
func buildEdges(b *v1alpha1.Build, sourceURL string) []lineage.EdgeRef {
	n, me, st := nodes{ns: b.Namespace}, buildNode(b), b.Status
	out := n.sourceEdges(sourceURL, st.Commit, me)
	if p := st.Pipeline; p != nil && p.Digest != "" {
		out = append(out, lineage.EdgeRef{From: n.digestNode(lineage.KindPipeline, p.Digest, p.Source), To: me, Kind: lineage.EdgePipeline})
	}
	primary := ""
	if st.Artifact != nil {
		primary = st.Artifact.Repository
	}
	for _, s := range st.Steps {
		if s.ImageDigest == "" || s.Phase == "Skipped" {
			continue
		}
		from := n.digestNode(lineage.KindImage, s.ImageDigest, s.Image)
		if primary != "" && inRegistryNamespace(imageRepository(s.Image), primary) {
			from = n.artifact(imageRepository(s.Image), s.ImageDigest)
		}
		out = append(out, lineage.EdgeRef{From: from, To: me, Kind: lineage.EdgeStepImage})
	}
	for _, in := range b.Spec.Inputs {
		out = append(out, lineage.EdgeRef{From: n.artifact(in.Repository, in.Digest), To: me, Kind: lineage.EdgeInput})
	}
	if st.CachedFrom != "" {
		from := lineage.NodeRef{Kind: lineage.KindBuild, Namespace: b.Namespace, Key: st.CachedFrom}
		out = append(out, lineage.EdgeRef{From: from, To: me, Kind: lineage.EdgeCache})
	}
	for _, a := range outputs(b) {
		out = append(out, lineage.EdgeRef{From: me, To: n.artifact(a.Repository, a.Digest), Kind: lineage.EdgeOutput})
	}
	return out
}

// outputs are the build's artifacts: status.outputs, else status.artifact.
func outputs(b *v1alpha1.Build) []v1alpha1.BuildArtifact {
	if len(b.Status.Outputs) > 0 {
		return b.Status.Outputs
	}
	if b.Status.Artifact != nil {
		return []v1alpha1.BuildArtifact{*b.Status.Artifact}
	}
	return nil
}

// snapshotRecord: every component's image is a member of the snapshot.
func snapshotRecord(s *v1alpha1.Snapshot) lineage.Record {
	n := nodes{ns: s.Namespace}
	me := lineage.NodeRef{Kind: lineage.KindSnapshot, Namespace: s.Namespace, Key: s.Name, Owned: true,
		Attrs: map[string]string{"application": s.Spec.Application}}
	ev := lineage.Evidence{Origin: lineage.OriginRecord, Trust: lineage.TrustRecord}
	for _, c := range s.Spec.Components {
		repo, digest, ok := strings.Cut(c.ContainerImage, "@")
		if !ok {
			continue
		}
		ev.Edges = append(ev.Edges, lineage.EdgeRef{From: n.artifact(repo, digest), To: me, Kind: lineage.EdgeMember})
	}
	return lineage.Record{Key: recordKey("Snapshot", s.Namespace, s.Name), Version: versionOf(s.ResourceVersion),
		Evidence: []lineage.Evidence{ev}}
}

// releaseRecord: the snapshot was released; each component's artifact was
// published to its destination, in the release's target (managed)
// namespace. snap may be nil when the Snapshot is gone: destinations then
// hang off the release.
func releaseRecord(r *v1alpha1.Release, snap *v1alpha1.Snapshot) lineage.Record {
	me := lineage.NodeRef{Kind: lineage.KindRelease, Namespace: r.Namespace, Key: r.Name, Owned: true,
		Attrs: map[string]string{"phase": r.Status.Phase, "target": r.Status.Target, "plan": r.Spec.ReleasePlan}}
	snapNode := lineage.NodeRef{Kind: lineage.KindSnapshot, Namespace: r.Namespace, Key: r.Spec.Snapshot}
	ev := lineage.Evidence{Origin: lineage.OriginRecord, Trust: lineage.TrustRecord,
		Edges: []lineage.EdgeRef{{From: snapNode, To: me, Kind: lineage.EdgeReleased}}}
	images := map[string]string{}
	if snap != nil {
		for _, c := range snap.Spec.Components {
			images[c.Name] = c.ContainerImage
		}
	}
	target := r.Status.Target
	if target == "" {
		target = r.Namespace
	}
	for comp, v := range r.Status.Artifacts {
		dst, ok := destinationNode(target, v)
		if !ok {
			continue
		}
		from := me
		if repo, digest, ok := strings.Cut(images[comp], "@"); ok {
			from = nodes{ns: r.Namespace}.artifact(repo, digest)
		}
		ev.Edges = append(ev.Edges, lineage.EdgeRef{From: from, To: dst, Kind: lineage.EdgePublished})
	}
	return lineage.Record{Key: recordKey("Release", r.Namespace, r.Name), Version: versionOf(r.ResourceVersion),
		Evidence: []lineage.Evidence{ev}}
}

// destinationNode reads one entry of a Release's status.artifacts: a
// registry copy {repository, digest} or static files {path}.
func destinationNode(ns string, v any) (lineage.NodeRef, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return lineage.NodeRef{}, false
	}
	repo, _ := m["repository"].(string)
	digest, _ := m["digest"].(string)
	path, _ := m["path"].(string)
	switch {
	case repo != "" && digest != "":
		return lineage.NodeRef{Kind: lineage.KindDestination, Namespace: ns, Key: repo + "@" + digest, Alt: digest,
			Attrs: map[string]string{"type": "registry"}}, true
	case path != "":
		return lineage.NodeRef{Kind: lineage.KindDestination, Namespace: ns, Key: "static:" + path, Alt: path,
			Attrs: map[string]string{"type": "static"}}, true
	}
	return lineage.NodeRef{}, false
}
