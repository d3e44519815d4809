package oci

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const (
	mtOCIManifest  = "application/vnd.oci.image.manifest.v1+json"
	mtOCIIndex     = "application/vnd.oci.image.index.v1+json"
	mtDockerV2     = "application/vnd.docker.distribution.manifest.v2+json"
	mtDockerList   = "application/vnd.docker.distribution.manifest.list.v2+json"
	mtLayerGzip    = "application/vnd.oci.image.layer.v1.tar+gzip"
	mtForeignLayer = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
)

// uploadBlob pushes data to repo over HTTP and returns its descriptor JSON
// with mediaType mt.
func uploadBlob(t testing.TB, tr *testRegistry, repo, mt string, data []byte) string {
	t.Helper()
	dgst := fmt.Sprintf("sha256:%x", sha256.Sum256(data))
	resp := tr.do(t, http.MethodPost, "/v2/"+repo+"/blobs/uploads/", tokenA, nil, nil)
	loc := resp.Header.Get("Location")
	resp = tr.do(t, http.MethodPut, loc+"&digest="+dgst, tokenA, bytes.NewReader(data),
		map[string]string{"Content-Type": "application/octet-stream"})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("uploading a blob: %d %s", resp.StatusCode, readBody(t, resp))
	}
	return fmt.Sprintf(`{"mediaType":%q,"digest":%q,"size":%d}`, mt, dgst, len(data))
}

// withField adds "key": value to a descriptor's JSON.
func withField(desc, key, value string) string {
	return strings.TrimSuffix(desc, "}") + `,"` + key + `":` + value + `}`
}

// malformedManifests are manifests distribution answered with 500 (or, for
// a bad subject digest or a negative size, stored as they were); every
// other part of them is valid, so only the named problem can be at fault.
func malformedManifests(config, layer, foreign string) []struct{ name, ct, body, want string } {
	oci := func(version, cfg string, layers ...string) string {
		return `{"schemaVersion":` + version + `,"mediaType":"` + mtOCIManifest + `","config":` + cfg +
			`,"layers":[` + strings.Join(layers, ",") + `]}`
	}
	return []struct{ name, ct, body, want string }{
		{"layer with urls", mtOCIManifest, oci("2", config, withField(layer, "urls", `["https://example.com/layer"]`)), "layers[0]: urls: this registry does not accept foreign layers"},
		{"non-distributable layer with urls", mtOCIManifest, oci("2", config, withField(strings.Replace(layer, "layer.v1", "layer.nondistributable.v1", 1), "urls", `["https://example.com/l"]`)), "layers[0]: urls"},
		{"docker foreign layer", mtDockerV2, `{"schemaVersion":2,"mediaType":"` + mtDockerV2 + `","config":` + strings.Replace(config, "application/vnd.oci.empty.v1+json", "application/vnd.docker.container.image.v1+json", 1) + `,"layers":[` + withField(foreign, "urls", `["https://example.com/f"]`) + `]}`, "layers[0]: urls"},
		{"schema version 3", mtOCIManifest, oci("3", config, layer), "schemaVersion must be 2"},
		{"no schema version", mtOCIManifest, `{"mediaType":"` + mtOCIManifest + `","config":` + config + `,"layers":[]}`, "schemaVersion must be 2"},
		{"null", mtOCIManifest, `null`, "schemaVersion must be 2"},
		{"short digest", mtOCIManifest, oci("2", `{"mediaType":"a/b","digest":"sha256:abc","size":2}`, layer), "config: digest"},
		{"unknown algorithm", mtOCIManifest, oci("2", config, `{"mediaType":"`+mtLayerGzip+`","digest":"sha999:abc","size":2}`), "layers[0]: digest"},
		{"bad subject digest", mtOCIManifest, strings.TrimSuffix(oci("2", config, layer), "}") + `,"subject":{"mediaType":"` + mtOCIManifest + `","digest":"sha256:12","size":2}}`, "subject: digest"},
		{"negative size", mtOCIManifest, oci("2", config, withField(strings.Replace(layer, `"size":`, `"x":`, 1), "size", "-1")), "layers[0]: size -1 is negative"},
		{"index with a bad digest", mtOCIIndex, `{"schemaVersion":2,"mediaType":"` + mtOCIIndex + `","manifests":[{"mediaType":"` + mtOCIManifest + `","digest":"sha256:abc","size":2}]}`, "manifests[0]: digest"},
		{"list of schema 1", mtDockerList, `{"schemaVersion":1,"mediaType":"` + mtDockerList + `","manifests":[]}`, "schemaVersion must be 2"},
	}
}

// TestManifestPutMalformedIsClientError: over HTTP, against the real
// registry, every manifest distribution used to answer with 500 gets 400
// MANIFEST_INVALID naming the field; a valid manifest of the same blobs is
// stored.
func TestManifestPutMalformedIsClientError(t *testing.T) {
	t.Parallel()
	tr := startRegistry(t, t.TempDir())
	config := uploadBlob(t, tr, "team-a/app", "application/vnd.oci.empty.v1+json", []byte("{}"))
	layer := uploadBlob(t, tr, "team-a/app", mtLayerGzip, []byte("layer bytes"))
	foreign := uploadBlob(t, tr, "team-a/app", mtForeignLayer, []byte("foreign bytes"))
	for _, tc := range malformedManifests(config, layer, foreign) {
		resp := tr.do(t, http.MethodPut, "/v2/team-a/app/manifests/bad", tokenA, strings.NewReader(tc.body),
			map[string]string{"Content-Type": tc.ct})
		body := readBody(t, resp)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `"MANIFEST_INVALID"`) || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d %s\nwant 400 MANIFEST_INVALID naming %q", tc.name, resp.StatusCode, body, tc.want)
		}
	}
	valid := `{"schemaVersion":2,"mediaType":"` + mtOCIManifest + `","config":` + config + `,"layers":[` + layer + `]}`
	resp := tr.do(t, http.MethodPut, "/v2/team-a/app/manifests/good", tokenA, strings.NewReader(valid),
		map[string]string{"Content-Type": mtOCIManifest})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("valid manifest: %d %s", resp.StatusCode, readBody(t, resp))
	}
}

// FuzzManifestPut: no manifest a client can send makes the registry answer
// with a server error: malformed input is the client's mistake (4xx).
func FuzzManifestPut(f *testing.F) {
	tr := startRegistry(f, f.TempDir())
	config := uploadBlob(f, tr, "team-a/app", "application/vnd.oci.empty.v1+json", []byte("{}"))
	layer := uploadBlob(f, tr, "team-a/app", mtLayerGzip, []byte("layer bytes"))
	foreign := uploadBlob(f, tr, "team-a/app", mtForeignLayer, []byte("foreign bytes"))
	for _, tc := range malformedManifests(config, layer, foreign) {
		f.Add(tc.ct, []byte(tc.body))
	}
	valid := `{"schemaVersion":2,"mediaType":"` + mtOCIManifest + `","config":` + config + `,"layers":[` + layer + `]}`
	f.Add(mtOCIManifest, []byte(valid))
	f.Add(mtOCIIndex, []byte(`{"schemaVersion":2,"mediaType":"`+mtOCIIndex+`","manifests":[`+withField(layer, "platform", `{"os":"linux","architecture":"amd64"}`)+`]}`))
	f.Add("", []byte(`{"schemaVersion":2,"config":`+config+`,"layers":[],"annotations":{"a":"b"}}`))
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte("u:"+tokenA))
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		req := httptest.NewRequest(http.MethodPut, "/v2/team-a/app/manifests/fuzz", bytes.NewReader(body))
		req.Header.Set("Authorization", auth)
		req.Header.Set("Content-Type", contentType)
		rec := httptest.NewRecorder()
		tr.reg.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%d for a client's manifest: %s", rec.Code, rec.Body)
		}
		if rec.Code >= 400 && !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%d with a body that is not a JSON error: %q", rec.Code, rec.Body)
		}
	})
}

// FuzzManifestPutFields builds well-formed JSON manifests from fuzzed
// fields, to reach distribution's verification beyond JSON syntax: still no
// server errors.
func FuzzManifestPutFields(f *testing.F) {
	tr := startRegistry(f, f.TempDir())
	config := uploadBlob(f, tr, "team-a/app", "application/vnd.oci.empty.v1+json", []byte("{}"))
	layer := uploadBlob(f, tr, "team-a/app", mtLayerGzip, []byte("layer bytes"))
	var cfg, lay struct {
		MediaType, Digest string
		Size              int64
	}
	mustNil(f, json.Unmarshal([]byte(config), &cfg))
	mustNil(f, json.Unmarshal([]byte(layer), &lay))
	f.Add(2, mtOCIManifest, cfg.MediaType, cfg.Digest, cfg.Size, lay.MediaType, lay.Digest, lay.Size, "", "", "")
	f.Add(2, mtOCIIndex, mtOCIManifest, lay.Digest, lay.Size, lay.MediaType, cfg.Digest, int64(-1), "https://x/y", cfg.Digest, "a/b")
	f.Add(2, mtDockerV2, "application/vnd.docker.container.image.v1+json", cfg.Digest, cfg.Size, mtForeignLayer, lay.Digest, lay.Size, "", "sha512:00", "")
	f.Add(2, mtDockerList, mtDockerV2, cfg.Digest, cfg.Size, mtOCIIndex, lay.Digest, lay.Size, "", "", "")
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte("u:"+tokenA))
	f.Fuzz(func(t *testing.T, version int, mt, cfgMT, cfgDigest string, cfgSize int64, layMT, layDigest string, laySize int64, url, subject, artifactType string) {
		m := map[string]any{"schemaVersion": version, "mediaType": mt,
			"config": map[string]any{"mediaType": cfgMT, "digest": cfgDigest, "size": cfgSize},
			"layers": []any{map[string]any{"mediaType": layMT, "digest": layDigest, "size": laySize}}}
		m["manifests"] = m["layers"]
		if url != "" {
			m["layers"].([]any)[0].(map[string]any)["urls"] = []string{url}
		}
		if subject != "" {
			m["subject"] = map[string]any{"mediaType": mtOCIManifest, "digest": subject, "size": 2}
		}
		if artifactType != "" {
			m["artifactType"] = artifactType
		}
		body, _ := json.Marshal(m)
		req := httptest.NewRequest(http.MethodPut, "/v2/team-a/app/manifests/fuzz", bytes.NewReader(body))
		req.Header.Set("Authorization", auth)
		req.Header.Set("Content-Type", mt)
		rec := httptest.NewRecorder()
		tr.reg.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%d for manifest %s: %s", rec.Code, body, rec.Body)
		}
	})
}
