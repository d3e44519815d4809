package trace

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/kilnbuild/kiln/internal/attest"
	"github.com/kilnbuild/kiln/internal/lineage"
)

// nodes makes the node references of one namespace.
type nodes struct{ ns string }

func (n nodes) source(url string) lineage.NodeRef {
	url = SourceURL(url)
	return lineage.NodeRef{Kind: lineage.KindSource, Namespace: n.ns, Key: url}
}

func (n nodes) commit(url, sha string) lineage.NodeRef {
	url = SourceURL(url)
	return lineage.NodeRef{Kind: lineage.KindCommit, Namespace: n.ns, Key: url + "@" + sha, Alt: sha}
}

func (n nodes) artifact(repo, digest string) lineage.NodeRef {
	return lineage.NodeRef{Kind: lineage.KindArtifact, Namespace: n.ns, Key: repo + "@" + digest, Alt: digest}
}

func (n nodes) digestNode(kind lineage.NodeKind, digest, label string) lineage.NodeRef {
	return lineage.NodeRef{Kind: kind, Namespace: n.ns, Key: digest, Label: label + " " + digest}
}

func (n nodes) pkg(p Package) lineage.NodeRef {
	return lineage.NodeRef{Kind: lineage.KindPackage, Namespace: n.ns, Key: p.Key, Alt: p.Base, Attrs: map[string]string{"version": p.Version}}
}

// sourceEdges: source → commit → build.
func (n nodes) sourceEdges(url, sha string, build lineage.NodeRef) []lineage.EdgeRef {
	if url == "" || sha == "" {
		return nil
	}
	c := n.commit(url, sha)
	return []lineage.EdgeRef{{From: n.source(url), To: c, Kind: lineage.EdgeRevision}, {From: c, To: build, Kind: lineage.EdgeSource}}
}

// inRegistryNamespace reports whether repo is in the same registry and
// namespace as subject (host/ns/…): a dependency artifact rather than a
// step image from elsewhere.
func inRegistryNamespace(repo, subject string) bool {
	parts := strings.SplitN(subject, "/", 3)
	return len(parts) == 3 && strings.HasPrefix(repo, parts[0]+"/"+parts[1]+"/")
}

// imageRepository strips a tag from an image reference.
func imageRepository(image string) string {
	repo, _, _ := strings.Cut(image, "@")
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo = repo[:i]
	}
	return repo
}

// provenanceEdges are what a SLSA provenance claims: the build node made
// its subjects from its source, pipeline, images, dependencies and files.
func (n nodes) provenanceEdges(p *attest.SLSAProvenance, build lineage.NodeRef, subjects []lineage.NodeRef, subjectRepo string) []lineage.EdgeRef {
	var out []lineage.EdgeRef
	src := p.BuildDefinition.ExternalParameters.Source
	out = append(out, n.sourceEdges(src.URI, src.Commit, build)...)
	for _, d := range p.BuildDefinition.ResolvedDependencies {
		out = append(out, n.dependencyEdge(d, build, subjectRepo, src.Commit)...)
	}
	for _, s := range subjects {
		out = append(out, lineage.EdgeRef{From: build, To: s, Kind: lineage.EdgeOutput})
	}
	return out
}

func (n nodes) dependencyEdge(d attest.ResourceDescriptor, build lineage.NodeRef, subjectRepo, commit string) []lineage.EdgeRef {
	if sha := d.Digest["gitCommit"]; sha != "" {
		if sha == commit {
			return nil // the source, already linked
		}
		url, _, _ := strings.Cut(strings.TrimPrefix(d.URI, "git+"), "@"+sha)
		return n.sourceEdges(url, sha, build)
	}
	hex := d.Digest["sha256"]
	if hex == "" {
		return nil // kiln:host, an unpinned image: nothing to link by
	}
	digest := "sha256:" + hex
	switch {
	case d.Name == "pipeline" || strings.HasPrefix(d.URI, "kiln:pipeline/"):
		return []lineage.EdgeRef{{From: n.digestNode(lineage.KindPipeline, digest, strings.TrimPrefix(d.URI, "kiln:pipeline/")), To: build, Kind: lineage.EdgePipeline}}
	case strings.HasPrefix(d.URI, "oci://"):
		ref := strings.TrimPrefix(d.URI, "oci://")
		if subjectRepo == "" || inRegistryNamespace(imageRepository(ref), subjectRepo) {
			return []lineage.EdgeRef{{From: n.artifact(imageRepository(ref), digest), To: build, Kind: lineage.EdgeInput}}
		}
		return []lineage.EdgeRef{{From: n.digestNode(lineage.KindImage, digest, ref), To: build, Kind: lineage.EdgeStepImage}}
	}
	label := d.URI
	if d.Name != "" {
		label = d.Name
	}
	return []lineage.EdgeRef{{From: n.digestNode(lineage.KindFile, digest, label), To: build, Kind: lineage.EdgePrefetch}}
}

// spdxDoc is the part of an SPDX 2.x JSON document the index reads.
type spdxDoc struct {
	Packages []struct {
		SPDXID       string `json:"SPDXID"`
		ExternalRefs []struct {
			Category string `json:"referenceCategory"`
			Type     string `json:"referenceType"`
			Locator  string `json:"referenceLocator"`
		} `json:"externalRefs"`
	} `json:"packages"`
	Relationships []struct {
		Element string `json:"spdxElementId"`
		Type    string `json:"relationshipType"`
		Related string `json:"relatedSpdxElement"`
	} `json:"relationships"`
	DocumentDescribes []string `json:"documentDescribes"`
}

// buildInputs are the SPDX elements that describe the artifact itself or
// what built it (the provenance's business, not packages it contains).
func (d *spdxDoc) buildInputs() map[string]bool {
	skip := map[string]bool{}
	for _, id := range d.DocumentDescribes {
		skip[id] = true
	}
	for _, r := range d.Relationships {
		switch r.Type {
		case "DESCRIBES":
			skip[r.Related] = true
		case "GENERATED_FROM":
			skip[r.Related] = true
		case "BUILD_TOOL_OF", "BUILD_DEPENDENCY_OF", "DESCRIBED_BY":
			skip[r.Element] = true
		}
	}
	return skip
}

// spdxPackages lists the purls an SPDX document's packages carry, except
// the artifact itself and its build inputs.
func spdxPackages(raw []byte) ([]Package, error) {
	var d spdxDoc
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, fmt.Errorf("decoding SPDX document: %w", err)
	}
	skip := d.buildInputs()
	var out []Package
	for _, p := range d.Packages {
		if skip[p.SPDXID] {
			continue
		}
		for _, ref := range p.ExternalRefs {
			if ref.Type != "purl" {
				continue
			}
			if pkg, err := ParsePackage(ref.Locator); err == nil {
				out = append(out, pkg)
			}
		}
	}
	return out, nil
}

type cdxProperty struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

func (p cdxProperty) buildInput() bool {
	return p.Name == "kiln:relationship" && (p.Value == "GENERATED_FROM" || p.Value == "BUILD_TOOL_OF" || p.Value == "BUILD_DEPENDENCY_OF")
}

// cycloneDXPackages lists the purls of a CycloneDX BOM's components, except
// those excluded from it (build-time inputs) and those Kiln marks as the
// source or a build input (property kiln:relationship).
func cycloneDXPackages(raw []byte) ([]Package, error) {
	var bom struct {
		Components []struct {
			PURL       string        `json:"purl"`
			Scope      string        `json:"scope"`
			Properties []cdxProperty `json:"properties"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &bom); err != nil {
		return nil, fmt.Errorf("decoding CycloneDX BOM: %w", err)
	}
	var out []Package
	for _, c := range bom.Components {
		if c.PURL == "" || c.Scope == "excluded" {
			continue
		}
		if slices.ContainsFunc(c.Properties, cdxProperty.buildInput) {
			continue // Kiln's record of the source or a build input
		}
		if pkg, err := ParsePackage(c.PURL); err == nil {
			out = append(out, pkg)
		}
	}
	return out, nil
}

// packageEdges: every package → every subject artifact.
func (n nodes) packageEdges(pkgs []Package, subjects []lineage.NodeRef) []lineage.EdgeRef {
	var out []lineage.EdgeRef
	for _, p := range pkgs {
		for _, s := range subjects {
			out = append(out, lineage.EdgeRef{From: n.pkg(p), To: s, Kind: lineage.EdgeContains})
		}
	}
	return out
}
