package attest

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/kilnbuild/kiln/internal/oci"
)

// maxBlob bounds what Verify reads for one signature or attestation layer.
const maxBlob = 64 << 20

// errNotFound marks a manifest the registry does not have.
var errNotFound = errors.New("not found")

// reader fetches manifests and blobs. internal/oci has no raw fetch API,
// so this mirrors its use of oci.Remote (same auth and TLS settings).
type reader struct {
	opts      []remote.Option
	transport *http.Transport // nil when the caller supplied one
}

func newReader(ctx context.Context, rem oci.Remote) *reader {
	r := &reader{}
	rt := rem.Transport
	if rt == nil {
		r.transport = remote.DefaultTransport.(*http.Transport).Clone()
		switch {
		case rem.TLS != nil:
			r.transport.TLSClientConfig = rem.TLS
		case rem.RootCAs != nil:
			r.transport.TLSClientConfig = &tls.Config{RootCAs: rem.RootCAs, MinVersion: tls.VersionTLS12}
		}
		rt = r.transport
	}
	r.opts = []remote.Option{remote.WithContext(ctx), remote.WithAuth(authenticator(rem)),
		remote.WithTransport(rt), remote.WithUserAgent("kiln")}
	return r
}

// close drops the reader's idle connections.
func (r *reader) close() {
	if r.transport != nil {
		r.transport.CloseIdleConnections()
	}
}

func authenticator(rem oci.Remote) authn.Authenticator {
	switch {
	case rem.Token != "":
		return &authn.Basic{Username: cmp.Or(rem.Username, "kiln"), Password: rem.Token}
	case rem.Username != "" || rem.Password != "":
		return &authn.Basic{Username: rem.Username, Password: rem.Password}
	}
	return authn.Anonymous
}

func nameOptions(rem oci.Remote) []name.Option {
	if rem.PlainHTTP {
		return []name.Option{name.Insecure}
	}
	return nil
}

// head resolves a reference to its manifest digest.
func (r *reader) head(ref name.Reference) (string, error) {
	d, err := remote.Head(ref, r.opts...)
	if err != nil {
		return "", fmt.Errorf("resolving %s: %w", ref, notFound(err))
	}
	return d.Digest.String(), nil
}

// manifest fetches and parses an image manifest; errNotFound (wrapped)
// when the registry does not have it.
func (r *reader) manifest(ref name.Reference) (*v1.Manifest, error) {
	d, err := remote.Get(ref, r.opts...)
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", ref, notFound(err))
	}
	m, err := v1.ParseManifest(bytes.NewReader(d.Manifest))
	if err != nil {
		return nil, fmt.Errorf("parsing manifest %s: %w", ref, err)
	}
	return m, nil
}

// blob fetches a layer and checks its size and digest.
func (r *reader) blob(repo name.Repository, d v1.Descriptor) ([]byte, error) {
	if d.Size > maxBlob {
		return nil, fmt.Errorf("layer %s is %d bytes, more than the %d allowed", d.Digest, d.Size, maxBlob)
	}
	l, err := remote.Layer(repo.Digest(d.Digest.String()), r.opts...)
	if err != nil {
		return nil, fmt.Errorf("fetching layer %s: %w", d.Digest, err)
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, fmt.Errorf("fetching layer %s: %w", d.Digest, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxBlob+1))
	if err != nil {
		return nil, fmt.Errorf("reading layer %s: %w", d.Digest, err)
	}
	sum := sha256.Sum256(b)
	if d.Digest.Algorithm != "sha256" || d.Digest.Hex != hex.EncodeToString(sum[:]) || int64(len(b)) != d.Size {
		return nil, fmt.Errorf("layer %s: content does not match its descriptor", d.Digest)
	}
	return b, nil
}

func notFound(err error) error {
	var terr *transport.Error
	if errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound {
		return fmt.Errorf("%w (%v)", errNotFound, err)
	}
	return err
}
