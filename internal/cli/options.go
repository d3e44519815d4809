package cli

import (
	"context"
	"runtime/debug"
	"time"

	"github.com/kilnbuild/kiln/internal/sandbox"
)

// Option configures a root command (NewRootCommand). Without options the
// command is the kiln binary's: the bubblewrap sandbox, the registry and
// OCI layout image resolver, the real clock.
type Option func(*options)

// ImageResolver makes an image's root filesystem available and returns
// its path and the image's digest.
type ImageResolver func(ctx context.Context, image string) (rootfs, digest string, err error)

// options are what a root command's verbs use besides its flags.
type options struct {
	// newRunner builds the sandbox `kiln run` runs steps in.
	newRunner func() (sandbox.Runner, error)
	// resolveImage, when set, replaces `kiln run`'s registry and layout
	// resolver (and its --ca-file and --image-cache flags).
	resolveImage ImageResolver
	// now is the clock ages in output are measured with.
	now func() time.Time
	// pollInterval is how often `delete --wait` checks an object is gone.
	pollInterval time.Duration
	// version is the client version, sent as the user agent.
	version string
}

func newOptions(opts []Option) options {
	o := options{
		newRunner:    func() (sandbox.Runner, error) { return sandbox.NewBubblewrap(sandbox.Options{}) },
		now:          time.Now,
		pollInterval: 500 * time.Millisecond,
		version:      buildVersion(),
	}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// WithRunner sets the sandbox backend `kiln run` runs steps with (default:
// bubblewrap).
func WithRunner(newRunner func() (sandbox.Runner, error)) Option {
	return func(o *options) { o.newRunner = newRunner }
}

// WithImageResolver sets how `kiln run` resolves step images other than
// "host" (default: pull from the registry the reference names, or unpack
// an oci-layout: reference, into the user's cache).
func WithImageResolver(r ImageResolver) Option {
	return func(o *options) { o.resolveImage = r }
}

// WithClock sets the clock ages ("5m") are computed with.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// WithPollInterval sets how often `delete --wait` checks whether an object
// is gone (default 500ms).
func WithPollInterval(d time.Duration) Option {
	return func(o *options) { o.pollInterval = d }
}

// WithVersion sets the client version `kiln version` prints and the user
// agent carries; empty keeps the default, the module version from the build
// info ("dev" without one).
func WithVersion(v string) Option {
	return func(o *options) {
		if v != "" {
			o.version = v
		}
	}
}

func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}
