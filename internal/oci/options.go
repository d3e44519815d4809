package oci

import (
	"context"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// RemoteOptions are the go-containerregistry options this package's client
// uses for r (auth, TLS, the shared transport, user agent), for callers that
// drive go-containerregistry's remote package themselves, such as
// internal/publish copying between registries.
func (r Remote) RemoteOptions(ctx context.Context, extra ...remote.Option) []remote.Option {
	return r.options(ctx, extra...)
}

// NameOptions are the options for parsing references to r's registry
// (name.Insecure when PlainHTTP is set).
func (r Remote) NameOptions() []name.Option { return r.nameOptions() }
