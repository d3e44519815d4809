package attest

import (
	"bytes"
	"fmt"
	"strconv"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/google/uuid"
)

// CycloneDX builds the same inventory as SBOM in CycloneDX 1.6: the
// artifact is metadata.component, its files are "file" components, the
// source and the build inputs (scope "excluded": used to build, not
// shipped) and the declared language dependencies are components it
// depends on. MarshalCycloneDX turns it into JSON.
func CycloneDX(in SBOMInput) (*cdx.BOM, error) {
	inv, err := collect(in)
	if err != nil {
		return nil, fmt.Errorf("cyclonedx: %w", err)
	}
	return inv.cycloneDX(), nil
}

// MarshalCycloneDX encodes a BOM as CycloneDX 1.6 JSON.
func MarshalCycloneDX(bom *cdx.BOM) ([]byte, error) {
	var buf bytes.Buffer
	if err := cdx.NewBOMEncoder(&buf, cdx.BOMFileFormatJSON).EncodeVersion(bom, cdx.SpecVersion1_6); err != nil {
		return nil, fmt.Errorf("encoding CycloneDX BOM: %w", err)
	}
	return buf.Bytes(), nil
}

func (inv *inventory) cycloneDX() *cdx.BOM {
	bom := cdx.NewBOM()
	bom.SerialNumber = "urn:uuid:" + uuid.NewSHA1(uuid.NameSpaceURL, []byte(inv.in.Artifact.Name+"@"+inv.artifact.version+"/"+inv.in.Created.String())).String()
	artifact := cdxComponent(inv.artifact, cdx.ComponentTypeApplication)
	bom.Metadata = &cdx.Metadata{
		Timestamp: inv.in.Created.Format(time.RFC3339),
		Tools: &cdx.ToolsChoice{Components: &[]cdx.Component{
			{Type: cdx.ComponentTypeApplication, Name: "kiln", Version: inv.in.Tool},
		}},
		Component: &artifact,
	}
	var comps []cdx.Component
	var dependsOn []string
	for i, f := range inv.files {
		comps = append(comps, cdx.Component{
			BOMRef: fmt.Sprintf("File-%d", i+1), Type: cdx.ComponentTypeFile, Name: f.path,
			Hashes:     &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA1, Value: f.sha1}, {Algorithm: cdx.HashAlgoSHA256, Value: f.sha256}},
			Properties: &[]cdx.Property{{Name: "kiln:size", Value: strconv.FormatInt(f.size, 10)}},
		})
	}
	for _, c := range inv.components {
		comps = append(comps, cdxComponent(c, cdxType(c.kind)))
		dependsOn = append(dependsOn, c.id)
	}
	bom.Components = &comps
	bom.Dependencies = &[]cdx.Dependency{{Ref: inv.artifact.id, Dependencies: &dependsOn}}
	return bom
}

func cdxType(kind string) cdx.ComponentType {
	switch kind {
	case "image":
		return cdx.ComponentTypeContainer
	case "file":
		return cdx.ComponentTypeFile
	case "golang", "npm", "package":
		return cdx.ComponentTypeLibrary
	}
	return cdx.ComponentTypeApplication
}

func cdxComponent(c component, typ cdx.ComponentType) cdx.Component {
	out := cdx.Component{BOMRef: c.id, Type: typ, Name: c.name, Version: c.version, PackageURL: c.purl, Description: c.comment}
	if c.sha256 != "" {
		out.Hashes = &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: c.sha256}}
	}
	switch c.relation {
	case relBuildTool, relBuildDependency:
		out.Scope = cdx.ScopeExcluded
	case relDependsOn:
		out.Scope = cdx.ScopeRequired
	}
	if c.kind == "source" {
		out.ExternalReferences = &[]cdx.ExternalReference{{Type: cdx.ERTypeVCS, URL: c.download}}
	}
	if c.relation != "" {
		out.Properties = &[]cdx.Property{{Name: "kiln:relationship", Value: c.relation}}
	}
	return out
}
