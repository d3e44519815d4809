package attest

import (
	"crypto/sha1" //nolint:gosec // SPDX 2.3 requires SHA1 file checksums
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"time"

	"github.com/kilnbuild/kiln/internal/tenantfs"
)

// SBOMInput describes what an SBOM lists.
type SBOMInput struct {
	// Artifact is the artifact described.
	Artifact Artifact
	// Materials: the source becomes a package the artifact was generated
	// from; step images, dependency artifacts and prefetched files become
	// build-time packages. The pipeline is not listed.
	Materials
	// OutputDir holds the artifact's files (the directory that was pushed).
	OutputDir string
	// SourceDir is the checked-out source (the component's context);
	// go.mod and package.json found there add language-level packages.
	// Optional.
	SourceDir string
	// Created is when the SBOM was made (default: now).
	Created time.Time
	// Tool names the creator tool, e.g. "kiln-v0.4.0" (default "kiln").
	Tool string
	// Namespace is the SPDX documentNamespace (default
	// https://kiln.dev/spdx/<artifact name>/<digest hex>).
	Namespace string
}

// Relationship of a component to the artifact (SPDX relationship types).
const (
	relGeneratedFrom   = "GENERATED_FROM"      // artifact GENERATED_FROM source
	relBuildTool       = "BUILD_TOOL_OF"       // step image BUILD_TOOL_OF artifact
	relBuildDependency = "BUILD_DEPENDENCY_OF" // input BUILD_DEPENDENCY_OF artifact
	relDependsOn       = "DEPENDS_ON"          // source DEPENDS_ON module
)

// component is one package of the inventory, whatever the output format.
type component struct {
	id       string // SPDXRef-<id>, CycloneDX bom-ref
	kind     string // source, image, artifact, file, golang, npm
	name     string
	version  string
	download string // SPDX downloadLocation
	purl     string
	sha256   string // hex, when the component is content-addressed
	purpose  string // SPDX primaryPackagePurpose
	relation string
	comment  string
}

// fileEntry is one file of the artifact.
type fileEntry struct {
	path         string // "./dir/name"
	sha1, sha256 string
	size         int64
}

// inventory is what both SBOM formats render.
type inventory struct {
	in         SBOMInput
	artifact   component
	files      []fileEntry
	components []component
}

// collect walks the output and reads the source's dependency manifests.
func collect(in SBOMInput) (*inventory, error) {
	hexDigest, err := sha256Hex(in.Artifact.Digest)
	if err != nil {
		return nil, fmt.Errorf("artifact digest: %w", err)
	}
	if in.Created.IsZero() {
		in.Created = time.Now()
	}
	in.Created = in.Created.UTC().Truncate(time.Second)
	inv := &inventory{in: in, artifact: component{id: "Artifact", kind: "artifact",
		name: in.Artifact.Name, version: "sha256:" + hexDigest, download: "NOASSERTION",
		purl: ociPURL(in.Artifact.Name, hexDigest)}}
	if in.OutputDir != "" {
		if inv.files, err = walkFiles(in.OutputDir); err != nil {
			return nil, err
		}
	}
	if inv.components, err = buildComponents(in.Materials); err != nil {
		return nil, err
	}
	langs, err := languageComponents(in.SourceDir)
	if err != nil {
		return nil, err
	}
	inv.components = append(inv.components, langs...)
	return inv, nil
}

// buildComponents turns the materials into packages.
func buildComponents(m Materials) ([]component, error) {
	var out []component
	if m.Source.URL != "" {
		out = append(out, sourceComponent(m.Source))
	}
	seen := map[string]bool{}
	for _, s := range m.Steps {
		if s.Image == "host" || seen[s.Image+"@"+s.Digest] {
			continue
		}
		seen[s.Image+"@"+s.Digest] = true
		c, err := imageComponent(fmt.Sprintf("Image-%d", len(seen)), s.Image, s.Digest, relBuildTool)
		if err != nil {
			return nil, fmt.Errorf("step %s/%s: %w", s.Task, s.Step, err)
		}
		out = append(out, c)
	}
	for i, a := range m.Dependencies {
		c, err := imageComponent(fmt.Sprintf("Dependency-%d", i+1), a.Name, a.Digest, relBuildDependency)
		if err != nil {
			return nil, fmt.Errorf("dependency %s: %w", a.Name, err)
		}
		out = append(out, c)
	}
	for i, p := range m.Packages {
		h, err := sha256Hex(p.SHA256)
		if err != nil {
			return nil, fmt.Errorf("package %s: %w", p.File, err)
		}
		out = append(out, component{id: fmt.Sprintf("Package-%d", i+1), kind: "package", name: p.Name, version: p.Version,
			download: p.URL, purl: packagePURL(p), sha256: h, purpose: "LIBRARY", relation: relBuildDependency, comment: "file: " + p.File})
	}
	for i, f := range m.Prefetched {
		c, err := prefetchedComponent(i+1, f)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

func sourceComponent(s Source) component {
	loc := gitURI(s.URL) + "@" + s.Commit
	return component{id: "Source", kind: "source", name: repoName(s.URL), version: s.Commit,
		download: loc, purl: vcsPURL(repoName(s.URL), s.Commit, loc), purpose: "SOURCE",
		relation: relGeneratedFrom}
}

// imageComponent describes an OCI image or artifact by reference + digest.
func imageComponent(id, ref, digest, relation string) (component, error) {
	repo := ociRepository(ref)
	c := component{id: id, kind: "image", name: repo, download: "NOASSERTION", purpose: "CONTAINER",
		relation: relation, comment: "reference: " + ref}
	if digest == "" {
		c.purl = ociPURL(repo, "")
		return c, nil
	}
	h, err := sha256Hex(digest)
	if err != nil {
		return component{}, err
	}
	c.version, c.sha256, c.purl = "sha256:"+h, h, ociPURL(repo, h)
	return c, nil
}

func prefetchedComponent(i int, f File) (component, error) {
	h, err := sha256Hex(f.SHA256)
	if err != nil {
		return component{}, fmt.Errorf("prefetched %s: %w", f.URL, err)
	}
	name := f.Name
	if name == "" {
		name = path.Base(f.URL)
	}
	download := f.URL
	if download == "" {
		download = "NOASSERTION"
	}
	return component{id: fmt.Sprintf("Prefetched-%d", i), kind: "file", name: name, download: download,
		purl: genericPURL(name, f.URL, h), sha256: h, purpose: "FILE", relation: relBuildDependency}, nil
}

// repoName is the last path element of a clone URL, without ".git".
func repoName(url string) string {
	url = strings.TrimSuffix(strings.TrimRight(url, "/"), ".git")
	if i := strings.LastIndexAny(url, "/:"); i >= 0 {
		url = url[i+1:]
	}
	if url == "" {
		return "source"
	}
	return url
}

// ociRepository strips a tag or digest from an image reference.
func ociRepository(ref string) string {
	ref, _, _ = strings.Cut(ref, "@")
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		ref = ref[:i]
	}
	return ref
}

// walkFiles hashes every regular file under dir, in lexical order. A
// build's steps wrote dir: links are not followed and nothing outside dir
// is read.
func walkFiles(dir string) ([]fileEntry, error) {
	tree, err := tenantfs.Open(dir, "the artifact")
	if err != nil {
		return nil, fmt.Errorf("listing artifact files: %w", err)
	}
	defer tree.Close()
	var out []fileEntry
	err = tree.WalkDir(".", func(rel string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		e, err := hashFile(tree, rel)
		if err != nil {
			return err
		}
		e.path = "./" + rel
		out = append(out, e)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing artifact files: %w", err)
	}
	return out, nil
}

func hashFile(tree *tenantfs.Tree, rel string) (fileEntry, error) {
	f, _, err := tree.Open(rel)
	if err != nil {
		return fileEntry{}, err
	}
	defer f.Close()
	s1, s256 := sha1.New(), sha256.New() //nolint:gosec // required by SPDX
	n, err := io.Copy(io.MultiWriter(s1, s256), f)
	if err != nil {
		return fileEntry{}, fmt.Errorf("hashing %s: %w", rel, err)
	}
	return fileEntry{sha1: hex.EncodeToString(s1.Sum(nil)), sha256: hex.EncodeToString(s256.Sum(nil)), size: n}, nil
}
