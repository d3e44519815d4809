package oci

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/opencontainers/go-digest"
)

// manifestShape is what the registry checks in a pushed manifest (OCI
// image manifest or index, Docker schema 2 manifest or list) before
// distribution stores it. Distribution answers some malformed manifests
// with 500 UNKNOWN, as if the registry had failed: a schemaVersion other
// than 2, a descriptor digest of the wrong length or an unknown algorithm,
// and any urls on a layer (it has no allow-list, so it accepts none). These
// are the client's mistakes and get 400 MANIFEST_INVALID here, with the
// field at fault.
type manifestShape struct {
	SchemaVersion *int              `json:"schemaVersion"`
	Config        *descriptorShape  `json:"config"`
	Layers        []descriptorShape `json:"layers"`
	Manifests     []descriptorShape `json:"manifests"`
	Blobs         []descriptorShape `json:"blobs"`
	Subject       *descriptorShape  `json:"subject"`
}

type descriptorShape struct {
	Digest string   `json:"digest"`
	Size   int64    `json:"size"`
	URLs   []string `json:"urls"`
}

// checkManifest returns why body cannot be stored, or nil to leave the
// verdict to distribution (also for bodies that are not a JSON object of
// this shape: distribution reports those as MANIFEST_INVALID itself).
func checkManifest(body []byte) error {
	var m manifestShape
	if json.Unmarshal(body, &m) != nil {
		return nil
	}
	if m.SchemaVersion == nil || *m.SchemaVersion != 2 {
		return fmt.Errorf("schemaVersion must be 2 (OCI image manifests and indexes, Docker schema 2), got %s", schemaVersion(m.SchemaVersion))
	}
	for _, d := range m.descriptors() {
		if err := d.desc.check(); err != nil {
			return fmt.Errorf("%s: %w", d.field, err)
		}
	}
	return nil
}

func schemaVersion(v *int) string {
	if v == nil {
		return "none"
	}
	return strconv.Itoa(*v)
}

type namedDescriptor struct {
	field string
	desc  *descriptorShape
}

// descriptors lists every descriptor of the manifest with its field path.
func (m *manifestShape) descriptors() []namedDescriptor {
	var out []namedDescriptor
	for _, one := range []struct {
		name string
		d    *descriptorShape
	}{{"config", m.Config}, {"subject", m.Subject}} {
		if one.d != nil {
			out = append(out, namedDescriptor{one.name, one.d})
		}
	}
	for _, list := range []struct {
		name string
		ds   []descriptorShape
	}{{"layers", m.Layers}, {"manifests", m.Manifests}, {"blobs", m.Blobs}} {
		for i := range list.ds {
			out = append(out, namedDescriptor{list.name + "[" + strconv.Itoa(i) + "]", &list.ds[i]})
		}
	}
	return out
}

func (d *descriptorShape) check() error {
	if _, err := digest.Parse(d.Digest); err != nil {
		return fmt.Errorf("digest %q: %w (a digest is <algorithm>:<hex>, e.g. sha256 and 64 hex digits)", d.Digest, err)
	}
	if d.Size < 0 {
		return fmt.Errorf("size %d is negative", d.Size)
	}
	if len(d.URLs) > 0 {
		return fmt.Errorf("urls: this registry does not accept foreign layers (descriptors with urls): push the blob itself and remove urls")
	}
	return nil
}
