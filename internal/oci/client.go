package oci

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/opencontainers/image-spec/specs-go"
)

var specsV2 = specs.Versioned{SchemaVersion: 2}

// Remote says how to reach a registry: Kiln's own or any other.
type Remote struct {
	// Token is a Kiln token, sent as the Basic auth password.
	Token string
	// Username and Password authenticate to other registries (Username
	// also names the Basic user sent with Token; default "kiln").
	Username, Password string
	// Keychain, when set and Token, Username and Password are not, finds
	// the credentials of each registry (e.g. authn.DefaultKeychain: the
	// Docker or Podman config); a registry it knows nothing of is read
	// anonymously.
	Keychain authn.Keychain
	// RootCAs verifies the registry's certificate (e.g. Kiln's own CA).
	RootCAs *x509.CertPool
	// TLS, when set, is used as is (RootCAs is ignored).
	TLS *tls.Config
	// PlainHTTP talks http:// (tests, local registries).
	PlainHTTP bool
	// Transport replaces the HTTP transport entirely (tests).
	Transport http.RoundTripper
	// Address, when set, is the host:port every request goes to, whatever
	// registry the reference names: the registry moved (Kiln's embedded
	// one, restarted on another address) and the stored references keep
	// their old name.
	Address string
}

// Descriptor identifies pushed or resolved content.
type Descriptor struct {
	MediaType    string            `json:"mediaType"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Digest       string            `json:"digest"`
	Size         int64             `json:"size"`
	Annotations  map[string]string `json:"annotations,omitempty"`
}

// DescriptorOf converts a go-containerregistry descriptor.
func DescriptorOf(d v1.Descriptor) Descriptor {
	return Descriptor{MediaType: string(d.MediaType), ArtifactType: d.ArtifactType,
		Digest: d.Digest.String(), Size: d.Size, Annotations: d.Annotations}
}

func (r Remote) nameOptions() []name.Option {
	if r.PlainHTTP {
		return []name.Option{name.Insecure}
	}
	return nil
}

func (r Remote) parse(ref string) (name.Reference, error) {
	parsed, err := name.ParseReference(ref, r.nameOptions()...)
	if err != nil {
		return nil, fmt.Errorf("parsing reference %q: %w", ref, err)
	}
	return parsed, nil
}

func (r Remote) authenticator() authn.Authenticator {
	switch {
	case r.Token != "":
		return &authn.Basic{Username: cmpOr(r.Username, "kiln"), Password: r.Token}
	case r.Username != "" || r.Password != "":
		return &authn.Basic{Username: r.Username, Password: r.Password}
	}
	return authn.Anonymous
}

func (r Remote) auth() remote.Option {
	if r.Keychain != nil && r.Token == "" && r.Username == "" && r.Password == "" {
		return remote.WithAuthFromKeychain(r.Keychain)
	}
	return remote.WithAuth(r.authenticator())
}

// transports are shared by every push and pull with the same TLS settings
// (compared by pointer), so connections and TLS sessions are reused.
var (
	transportsMu sync.Mutex
	transports   = map[transportKey]*http.Transport{}
)

type transportKey struct {
	pool *x509.CertPool
	tls  *tls.Config
}

// maxTransports bounds the cache for callers that build a new pool per call.
const maxTransports = 32

func (r Remote) transport() http.RoundTripper {
	t := r.baseTransport()
	if r.Address != "" {
		return redirected{base: t, address: r.Address}
	}
	return t
}

// redirected sends every request to address.
type redirected struct {
	base    http.RoundTripper
	address string
}

func (t redirected) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.URL.Host, req.Host = t.address, t.address
	return t.base.RoundTrip(req)
}

func (r Remote) baseTransport() http.RoundTripper {
	if r.Transport != nil {
		return r.Transport
	}
	key := transportKey{tls: r.TLS}
	if r.TLS == nil {
		key.pool = r.RootCAs
	}
	transportsMu.Lock()
	defer transportsMu.Unlock()
	if t, ok := transports[key]; ok {
		return t
	}
	if len(transports) >= maxTransports {
		for k, t := range transports {
			t.CloseIdleConnections()
			delete(transports, k)
		}
	}
	t := remote.DefaultTransport.(*http.Transport).Clone()
	switch {
	case r.TLS != nil:
		t.TLSClientConfig = r.TLS
	case r.RootCAs != nil:
		t.TLSClientConfig = &tls.Config{RootCAs: r.RootCAs, MinVersion: tls.VersionTLS12}
	}
	transports[key] = t
	return t
}

func (r Remote) options(ctx context.Context, extra ...remote.Option) []remote.Option {
	return append([]remote.Option{
		remote.WithContext(ctx),
		r.auth(),
		remote.WithTransport(r.transport()),
		remote.WithUserAgent("kiln"),
	}, extra...)
}

// Resolve returns the descriptor a reference points at (HEAD).
func Resolve(ctx context.Context, ref string, rem Remote) (Descriptor, error) {
	parsed, err := rem.parse(ref)
	if err != nil {
		return Descriptor{}, err
	}
	d, err := remote.Head(parsed, rem.options(ctx)...)
	if err != nil {
		return Descriptor{}, fmt.Errorf("resolving %s: %w", ref, err)
	}
	return DescriptorOf(*d), nil
}

// Tags lists a repository's tags.
func Tags(ctx context.Context, repo string, rem Remote) ([]string, error) {
	r, err := name.NewRepository(repo, rem.nameOptions()...)
	if err != nil {
		return nil, fmt.Errorf("parsing repository %q: %w", repo, err)
	}
	tags, err := remote.List(r, rem.options(ctx)...)
	if err != nil {
		return nil, fmt.Errorf("listing tags of %s: %w", repo, err)
	}
	return tags, nil
}

// Referrers lists the manifests whose subject is ref (which must be a
// digest reference), optionally only those of one artifact type. It uses the
// referrers API and falls back to the referrers tag schema.
func Referrers(ctx context.Context, ref, artifactType string, rem Remote) ([]Descriptor, error) {
	d, err := name.NewDigest(ref, rem.nameOptions()...)
	if err != nil {
		return nil, fmt.Errorf("parsing digest reference %q: %w", ref, err)
	}
	var extra []remote.Option
	if artifactType != "" {
		extra = append(extra, remote.WithFilter("artifactType", artifactType))
	}
	idx, err := remote.Referrers(d, rem.options(ctx, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("listing referrers of %s: %w", ref, err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading referrers of %s: %w", ref, err)
	}
	out := make([]Descriptor, 0, len(m.Manifests))
	for _, desc := range m.Manifests {
		out = append(out, DescriptorOf(desc))
	}
	return out, nil
}
