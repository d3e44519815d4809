package attest

import (
	"bytes"
	"crypto/sha1" //nolint:gosec // SPDX
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdxlib"
	"github.com/xeipuuv/gojsonschema"
)

var outputFiles = map[string]string{"bin/greet": "binary\x00data", "share/doc/README": "hello\n", "VERSION": "1.0\n"}

const goMod = `module example.com/greet

go 1.22

require (
	golang.org/x/text v0.3.0
	github.com/Masterminds/semver/v3 v3.2.1 // indirect
	example.com/forked v1.0.0
)

replace example.com/forked => example.com/fork v1.0.1
`

func sbomInput(t *testing.T) SBOMInput {
	t.Helper()
	out, src := t.TempDir(), t.TempDir()
	writeTree(t, out, outputFiles)
	writeTree(t, src, map[string]string{
		"go.mod":            goMod,
		"package.json":      `{"name":"web","dependencies":{"left-pad":"^1.3.0","@scope/ui":"2.0.0","react":"^18"}}`,
		"package-lock.json": `{"lockfileVersion":3,"packages":{"node_modules/left-pad":{"version":"1.3.0"}}}`,
	})
	return SBOMInput{Artifact: testArtifact, Materials: testMaterials(), OutputDir: out, SourceDir: src,
		Created: time.Date(2026, 11, 1, 10, 1, 30, 0, time.UTC), Tool: "kiln-test"}
}

func TestSBOMIsValidSPDX23(t *testing.T) {
	doc, err := SBOM(sbomInput(t))
	must(t, err)
	raw, err := MarshalSPDX(doc)
	must(t, err)
	checkSPDXShape(t, raw)

	// The SPDX project's parser reads it back, and its validator accepts
	// the relationships.
	back, err := spdxjson.Read(bytes.NewReader(raw))
	must(t, err)
	must(t, spdxlib.ValidateDocument(back))
	if back.SPDXVersion != "SPDX-2.3" || back.DataLicense != "CC0-1.0" || back.SPDXIdentifier != "DOCUMENT" {
		t.Fatalf("header = %s %s %s", back.SPDXVersion, back.DataLicense, back.SPDXIdentifier)
	}
	if want := "https://kiln.dev/spdx/" + testArtifact.Name + "/" + hex64('f'); back.DocumentNamespace != want {
		t.Fatalf("namespace = %s, want %s", back.DocumentNamespace, want)
	}
	if back.CreationInfo.Created != "2026-11-01T10:01:30Z" || back.CreationInfo.Creators[0].Creator != "kiln-test" {
		t.Fatalf("creationInfo = %+v", back.CreationInfo)
	}
	described, err := spdxlib.GetDescribedPackageIDs(back)
	must(t, err)
	if len(described) != 1 || described[0] != "Artifact" {
		t.Fatalf("described packages = %v", described)
	}
	again, err := SBOM(sbomInput(t))
	must(t, err)
	if b, _ := MarshalSPDX(again); !bytes.Equal(b, raw) {
		t.Fatal("the same inputs gave a different SBOM")
	}
}

func TestSBOMListsFilesWithChecksums(t *testing.T) {
	doc, err := SBOM(sbomInput(t))
	must(t, err)
	var names, sha1s []string
	for _, f := range doc.Files {
		names = append(names, f.FileName)
		content := outputFiles[strings.TrimPrefix(f.FileName, "./")]
		s1, s256 := sha1.Sum([]byte(content)), sha256.Sum256([]byte(content)) //nolint:gosec
		if f.Checksums[0].Value != hex.EncodeToString(s1[:]) || f.Checksums[1].Value != hex.EncodeToString(s256[:]) {
			t.Errorf("%s checksums = %+v", f.FileName, f.Checksums)
		}
		if want := fmt.Sprintf("size: %d bytes", len(content)); f.FileComment != want {
			t.Errorf("%s comment = %q, want %q", f.FileName, f.FileComment, want)
		}
		sha1s = append(sha1s, hex.EncodeToString(s1[:]))
	}
	if strings.Join(names, " ") != "./VERSION ./bin/greet ./share/doc/README" {
		t.Fatalf("files = %v", names)
	}
	slices.Sort(sha1s)
	code := sha1.Sum([]byte(strings.Join(sha1s, ""))) //nolint:gosec
	if got := doc.Packages[0].PackageVerificationCode.Value; got != hex.EncodeToString(code[:]) {
		t.Fatalf("verification code = %s", got)
	}
}

func TestSBOMPackagesAndRelationships(t *testing.T) {
	doc, err := SBOM(sbomInput(t))
	must(t, err)
	purls := map[string]string{}
	for _, p := range doc.Packages {
		if len(p.PackageExternalReferences) == 1 {
			purls[string(p.PackageSPDXIdentifier)] = p.PackageExternalReferences[0].Locator
		}
	}
	rels := map[string]bool{}
	for _, r := range doc.Relationships {
		rels[fmt.Sprintf("%s %s %s", r.RefA.ElementRefID, r.Relationship, r.RefB.ElementRefID)] = true
	}
	for id, want := range map[string]string{
		"Artifact":     "pkg:oci/greet@sha256%3A" + hex64('f') + "?repository_url=kiln.example.com/team/greet",
		"Source":       "pkg:generic/greet@" + testCommit + "?vcs_url=git%2Bhttps://git.example.com/team/greet.git%40" + testCommit,
		"Image-1":      "pkg:oci/golang@sha256%3A" + hex64('b') + "?repository_url=docker.io/library/golang",
		"Dependency-1": "pkg:oci/lib@sha256%3A" + hex64('c') + "?repository_url=kiln.example.com/team/lib",
		"Prefetched-1": "pkg:generic/tool.tgz?checksum=sha256:" + hex64('d') + "&download_url=https://dl.example.com/tool-1.0.tgz",
		"Go-1":         "pkg:golang/golang.org/x/text@v0.3.0",
		"Go-2":         "pkg:golang/github.com/Masterminds/semver/v3@v3.2.1",
		"Go-3":         "pkg:golang/example.com/fork@v1.0.1",
		"Npm-1":        "pkg:npm/%40scope/ui@2.0.0",
		"Npm-2":        "pkg:npm/left-pad@1.3.0",
		"Npm-3":        "pkg:npm/react",
	} {
		if purls[id] != want {
			t.Errorf("%s purl = %q, want %q", id, purls[id], want)
		}
	}
	for _, want := range []string{
		"DOCUMENT DESCRIBES Artifact", "Artifact CONTAINS File-1", "Artifact CONTAINS File-3",
		"Artifact GENERATED_FROM Source", "Image-1 BUILD_TOOL_OF Artifact",
		"Dependency-1 BUILD_DEPENDENCY_OF Artifact", "Prefetched-1 BUILD_DEPENDENCY_OF Artifact",
		"Source DEPENDS_ON Go-1", "Source DEPENDS_ON Npm-3",
	} {
		if !rels[want] {
			t.Errorf("missing relationship %q", want)
		}
	}
	if len(doc.Packages) != 1+1+1+1+1+3+3 { // the host step has no package
		t.Errorf("%d packages", len(doc.Packages))
	}
	if src := doc.Packages[1]; src.PackageDownloadLocation != "git+https://git.example.com/team/greet.git@"+testCommit {
		t.Errorf("source downloadLocation = %s", src.PackageDownloadLocation)
	}
}

// checkSPDXShape checks the SPDX 2.3 JSON schema's constraints on what Kiln
// writes: required properties, no property outside the schema (it sets
// additionalProperties: false) and the enumerations used. The schema file
// itself is not available here (see README.md).
func checkSPDXShape(t *testing.T, raw []byte) {
	t.Helper()
	var doc map[string]any
	must(t, json.Unmarshal(raw, &doc))
	shape := spdxShape{t: t}
	shape.object("document", doc, []string{"SPDXID", "creationInfo", "dataLicense", "name", "spdxVersion", "documentNamespace"},
		"annotations", "comment", "externalDocumentRefs", "hasExtractedLicensingInfos", "documentDescribes", "packages", "files", "snippets", "relationships", "revieweds")
	shape.object("creationInfo", doc["creationInfo"], []string{"created", "creators"}, "comment", "licenseListVersion")
	for _, p := range shape.list(doc["packages"]) {
		shape.object("package", p, []string{"SPDXID", "downloadLocation", "name"}, "annotations", "attributionTexts", "builtDate",
			"checksums", "comment", "copyrightText", "description", "externalRefs", "filesAnalyzed", "hasFiles", "homepage",
			"licenseComments", "licenseConcluded", "licenseDeclared", "licenseInfoFromFiles", "originator", "packageFileName",
			"packageVerificationCode", "primaryPackagePurpose", "releaseDate", "sourceInfo", "summary", "supplier", "validUntilDate", "versionInfo")
		shape.id(p)
		shape.enum("primaryPackagePurpose", p, "APPLICATION", "FRAMEWORK", "LIBRARY", "CONTAINER", "OPERATING-SYSTEM", "DEVICE", "FIRMWARE", "SOURCE", "ARCHIVE", "FILE", "INSTALL", "OTHER")
		for _, r := range shape.list(p.(map[string]any)["externalRefs"]) {
			shape.object("externalRef", r, []string{"referenceCategory", "referenceLocator", "referenceType"}, "comment")
			shape.enum("referenceCategory", r, "OTHER", "PERSISTENT-ID", "SECURITY", "PACKAGE-MANAGER")
		}
		shape.checksums(p)
	}
	for _, f := range shape.list(doc["files"]) {
		shape.object("file", f, []string{"SPDXID", "checksums", "fileName"}, "annotations", "artifactOfs", "attributionTexts",
			"comment", "copyrightText", "fileContributors", "fileDependencies", "fileTypes", "licenseComments",
			"licenseConcluded", "licenseInfoInFiles", "noticeText")
		shape.id(f)
		shape.checksums(f)
	}
	for _, r := range shape.list(doc["relationships"]) {
		shape.object("relationship", r, []string{"spdxElementId", "relatedSpdxElement", "relationshipType"}, "comment")
		shape.enum("relationshipType", r, "DESCRIBES", "CONTAINS", "GENERATED_FROM", "BUILD_TOOL_OF", "BUILD_DEPENDENCY_OF", "DEPENDS_ON")
	}
}

type spdxShape struct{ t *testing.T }

func (s spdxShape) object(what string, v any, required []string, optional ...string) {
	s.t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		s.t.Fatalf("%s is %T, not an object", what, v)
	}
	for _, k := range required {
		if _, ok := m[k]; !ok {
			s.t.Errorf("%s lacks required %q: %v", what, k, m)
		}
	}
	for k := range m {
		if !slices.Contains(required, k) && !slices.Contains(optional, k) {
			s.t.Errorf("%s has property %q, which SPDX 2.3 does not define", what, k)
		}
	}
}

func (s spdxShape) list(v any) []any {
	l, _ := v.([]any)
	return l
}

func (s spdxShape) id(v any) {
	id, _ := v.(map[string]any)["SPDXID"].(string)
	rest, ok := strings.CutPrefix(id, "SPDXRef-")
	if !ok || rest == "" || strings.Trim(rest, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") != "" {
		s.t.Errorf("SPDXID %q does not match SPDXRef-[A-Za-z0-9.-]+", id)
	}
}

func (s spdxShape) enum(field string, v any, allowed ...string) {
	if got, ok := v.(map[string]any)[field]; ok && !slices.Contains(allowed, got.(string)) {
		s.t.Errorf("%s = %v, not one of %v", field, got, allowed)
	}
}

func (s spdxShape) checksums(v any) {
	for _, c := range s.list(v.(map[string]any)["checksums"]) {
		s.object("checksum", c, []string{"algorithm", "checksumValue"})
		s.enum("algorithm", c, "SHA1", "SHA256")
	}
}

func TestCycloneDXMatchesTheOfficialSchema(t *testing.T) {
	bom, err := CycloneDX(sbomInput(t))
	must(t, err)
	raw, err := MarshalCycloneDX(bom)
	must(t, err)
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/CycloneDX/cyclonedx-go").Output()
	must(t, err)
	schemaDir := filepath.Join(strings.TrimSpace(string(out)), "schema")
	res, err := cycloneDXSchema(t, schemaDir).Validate(gojsonschema.NewBytesLoader(raw))
	must(t, err)
	for _, e := range res.Errors() {
		t.Errorf("schema: %s", e)
	}
	// A control: the schema does reject a broken BOM.
	bad := bytes.Replace(raw, []byte(`"type":"library"`), []byte(`"type":"nonsense"`), 1)
	if res, err := cycloneDXSchema(t, schemaDir).Validate(gojsonschema.NewBytesLoader(bad)); err != nil || res.Valid() {
		t.Fatalf("a BOM with an unknown component type passed the schema (err %v)", err)
	}
	var back cdx.BOM
	must(t, cdx.NewBOMDecoder(bytes.NewReader(raw), cdx.BOMFileFormatJSON).Decode(&back))
	if back.SpecVersion != cdx.SpecVersion1_6 || back.Metadata.Component.BOMRef != "Artifact" {
		t.Fatalf("BOM = %s, metadata component %+v", back.SpecVersion, back.Metadata.Component)
	}
	if n := len(*back.Components); n != 3+10 {
		t.Fatalf("%d components, want 3 files + 10 packages", n)
	}
	if deps := *(*back.Dependencies)[0].Dependencies; len(deps) != 10 {
		t.Fatalf("artifact depends on %v", deps)
	}
}

func TestSBOMWithoutSourceOrOutput(t *testing.T) {
	src := t.TempDir()
	writeTree(t, src, map[string]string{"go.mod": goMod})
	doc, err := SBOM(SBOMInput{Artifact: testArtifact, SourceDir: src})
	must(t, err)
	must(t, spdxlib.ValidateDocument(doc))
	if len(doc.Files) != 0 || doc.Packages[0].FilesAnalyzed {
		t.Fatalf("files = %d, filesAnalyzed = %v", len(doc.Files), doc.Packages[0].FilesAnalyzed)
	}
	if _, err := SBOM(SBOMInput{Artifact: Artifact{Name: "x", Digest: "md5:abc"}}); err == nil {
		t.Fatal("a non-sha256 artifact digest was accepted")
	}
	writeTree(t, src, map[string]string{"package.json": "{"})
	if _, err := SBOM(SBOMInput{Artifact: testArtifact, SourceDir: src}); err == nil || !strings.Contains(err.Error(), "package.json") {
		t.Fatalf("broken package.json: %v", err)
	}
}

// cycloneDXSchema compiles bom-1.6.schema.json as shipped in the
// cyclonedx-go module, with the two schemas it references loaded from the
// same directory instead of cyclonedx.org.
func cycloneDXSchema(t *testing.T, dir string) *gojsonschema.Schema {
	t.Helper()
	sl := gojsonschema.NewSchemaLoader()
	for _, f := range []string{"spdx.schema.json", "jsf-0.82.schemax.json"} {
		must(t, sl.AddSchemas(gojsonschema.NewReferenceLoader("file://"+filepath.Join(dir, f))))
	}
	schema, err := sl.Compile(gojsonschema.NewReferenceLoader("file://" + filepath.Join(dir, "bom-1.6.schema.json")))
	must(t, err)
	return schema
}
