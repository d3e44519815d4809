package oci

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
)

// The client works against any registry: here go-containerregistry's
// in-memory one over plain HTTP, without the referrers API, so referrers go
// through the tag-schema fallback.
func TestExternalRegistry(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	rem := Remote{PlainHTTP: true}
	ctx := context.Background()
	src := t.TempDir()
	writeTree(t, src, map[string]string{"out/app.bin": "binary"})

	d, err := PushDirectory(ctx, host+"/any/path/app:v1", src, PushOptions{Remote: rem, Tags: []string{"c0ffee"}})
	mustNil(t, err)
	att, err := PushArtifact(ctx, host+"/any/path/app", []Blob{{MediaType: typeSBOM, Data: []byte("{}")}},
		PushOptions{Remote: rem, ArtifactType: typeSBOM, Subject: &d})
	mustNil(t, err)

	dst := t.TempDir()
	_, err = Pull(ctx, host+"/any/path/app:c0ffee", dst, rem)
	mustNil(t, err)
	if got := readFile(t, filepath.Join(dst, "out/app.bin")); got != "binary" {
		t.Fatalf("pulled %q", got)
	}
	refs, err := Referrers(ctx, host+"/any/path/app@"+d.Digest, typeSBOM, rem)
	mustNil(t, err)
	if len(refs) != 1 || refs[0].Digest != att.Digest {
		t.Fatalf("referrers via fallback tag = %+v", refs)
	}
	tags, err := Tags(ctx, host+"/any/path/app", rem)
	mustNil(t, err)
	if !strings.Contains(strings.Join(tags, ","), strings.Replace(d.Digest, ":", "-", 1)) {
		t.Fatalf("no fallback tag among %v", tags)
	}
}
