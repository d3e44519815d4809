package attest

import (
	"cmp"
	"crypto/sha1" //nolint:gosec // the SPDX package verification code is SHA1
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/spdx/tools-golang/spdx"
	"github.com/spdx/tools-golang/spdx/v2/common"
)

const noAssertion = "NOASSERTION"

// SBOM builds an SPDX 2.3 document: the artifact as the described package
// containing its files (SHA1 + SHA256, size in the file comment), the source
// it was generated from, the build-time inputs (step images, dependency
// artifacts, prefetched files) and the source's declared Go and npm
// dependencies. MarshalSPDX turns it into JSON.
func SBOM(in SBOMInput) (*spdx.Document, error) {
	inv, err := collect(in)
	if err != nil {
		return nil, fmt.Errorf("sbom: %w", err)
	}
	return inv.spdx(), nil
}

// MarshalSPDX encodes a document as compact SPDX JSON.
func MarshalSPDX(doc *spdx.Document) ([]byte, error) {
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("encoding SPDX document: %w", err)
	}
	return b, nil
}

func (inv *inventory) spdx() *spdx.Document {
	in := inv.in
	ns := in.Namespace
	if ns == "" {
		ns = "https://kiln.dev/spdx/" + in.Artifact.Name + "/" + strings.TrimPrefix(inv.artifact.version, "sha256:")
	}
	doc := &spdx.Document{
		SPDXVersion: spdx.Version, DataLicense: spdx.DataLicense, SPDXIdentifier: "DOCUMENT",
		DocumentName: in.Artifact.Name + "@" + inv.artifact.version, DocumentNamespace: ns,
		CreationInfo: &spdx.CreationInfo{
			Creators: []common.Creator{{CreatorType: "Tool", Creator: cmp.Or(in.Tool, "kiln")}},
			Created:  in.Created.Format("2006-01-02T15:04:05Z"),
		},
	}
	artifact := spdxPackage(inv.artifact)
	doc.Packages = append(doc.Packages, artifact)
	doc.Relationships = append(doc.Relationships, relate("DOCUMENT", "DESCRIBES", "Artifact"))
	inv.addFiles(doc, artifact)
	for _, c := range inv.components {
		doc.Packages = append(doc.Packages, spdxPackage(c))
		doc.Relationships = append(doc.Relationships, inv.relationship(c))
	}
	return doc
}

// addFiles lists the artifact's files, which the artifact CONTAINS.
func (inv *inventory) addFiles(doc *spdx.Document, artifact *spdx.Package) {
	if len(inv.files) == 0 {
		return
	}
	sha1s := make([]string, 0, len(inv.files))
	for i, f := range inv.files {
		id := fmt.Sprintf("File-%d", i+1)
		doc.Files = append(doc.Files, &spdx.File{
			FileName: f.path, FileSPDXIdentifier: common.ElementID(id),
			Checksums: []common.Checksum{
				{Algorithm: common.SHA1, Value: f.sha1},
				{Algorithm: common.SHA256, Value: f.sha256},
			},
			LicenseConcluded: noAssertion, FileCopyrightText: noAssertion,
			FileComment: fmt.Sprintf("size: %d bytes", f.size),
		})
		doc.Relationships = append(doc.Relationships, relate("Artifact", "CONTAINS", id))
		sha1s = append(sha1s, f.sha1)
	}
	artifact.FilesAnalyzed, artifact.IsFilesAnalyzedTagPresent = true, true
	artifact.PackageVerificationCode = &common.PackageVerificationCode{Value: verificationCode(sha1s)}
}

// verificationCode is SPDX's package verification code: SHA1 of the
// sorted, concatenated SHA1s of the package's files.
func verificationCode(sha1s []string) string {
	sorted := slices.Sorted(slices.Values(sha1s))
	sum := sha1.Sum([]byte(strings.Join(sorted, ""))) //nolint:gosec // defined by SPDX
	return hex.EncodeToString(sum[:])
}

func spdxPackage(c component) *spdx.Package {
	p := &spdx.Package{
		PackageName: c.name, PackageSPDXIdentifier: common.ElementID(c.id), PackageVersion: c.version,
		PackageDownloadLocation: c.download, IsFilesAnalyzedTagPresent: true,
		PrimaryPackagePurpose: c.purpose, PackageComment: c.comment,
	}
	if c.sha256 != "" {
		p.PackageChecksums = []common.Checksum{{Algorithm: common.SHA256, Value: c.sha256}}
	}
	if c.purl != "" {
		p.PackageExternalReferences = []*spdx.PackageExternalReference{
			{Category: "PACKAGE-MANAGER", RefType: "purl", Locator: c.purl},
		}
	}
	return p
}

// relationship links a component to the artifact, or a declared language
// dependency to the source (to the artifact when there is no source).
func (inv *inventory) relationship(c component) *spdx.Relationship {
	switch c.relation {
	case relGeneratedFrom:
		return relate("Artifact", relGeneratedFrom, c.id)
	case relDependsOn:
		if inv.in.Source.URL == "" {
			return relate("Artifact", relDependsOn, c.id)
		}
		return relate("Source", relDependsOn, c.id)
	}
	return relate(c.id, c.relation, "Artifact")
}

func relate(a, rel, b string) *spdx.Relationship {
	return &spdx.Relationship{RefA: common.MakeDocElementID("", a), RefB: common.MakeDocElementID("", b), Relationship: rel}
}
