package cli

import (
	"context"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/kilnbuild/kiln/internal/oci"
	"github.com/kilnbuild/kiln/internal/pipeline"
)

// layoutPrefix marks a step image read from a local OCI image layout:
// oci-layout:PATH[@DIGEST].
const layoutPrefix = "oci-layout:"

// imageOptions are the flags of `kiln run` for step images.
type imageOptions struct {
	caFile   string
	cacheDir string
}

// resolver pulls a step image from its registry, or reads it from a local
// OCI layout, and unpacks it into the cache with the server's code
// (internal/oci: setuid bits dropped, links confined, digests checked).
// The cache directory is looked up at the first image: a pipeline of
// `image: host` steps needs none.
func (o imageOptions) resolver() (ImageResolver, error) {
	rem, err := o.remote()
	if err != nil {
		return nil, err
	}
	cache := sync.OnceValues(o.cache)
	return func(ctx context.Context, image string) (string, string, error) {
		if image == pipeline.BuildrootImage {
			return "", "", fmt.Errorf("%s is the buildroot the server composes for a build (base image plus resolved build dependencies): "+
				"kiln run cannot compose it; pass --param image=IMAGE with an image that has the build dependencies", image)
		}
		dir, err := cache()
		if err != nil {
			return "", "", err
		}
		if ref, ok := strings.CutPrefix(image, layoutPrefix); ok {
			return unpackLayout(ref, dir)
		}
		return oci.Unpack(ctx, image, dir, rem)
	}, nil
}

// cache is --image-cache, else the user's cache directory's kiln/images.
func (o imageOptions) cache() (string, error) {
	if o.cacheDir != "" {
		return filepath.Abs(o.cacheDir)
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("finding the image cache (pass --image-cache DIR): %w", err)
	}
	return filepath.Join(dir, "kiln", "images"), nil
}

// remote reads registries with the credentials of the Docker or Podman
// config (anonymously where there are none), trusting the system's CAs
// and --ca-file's.
func (o imageOptions) remote() (oci.Remote, error) {
	rem := oci.Remote{Keychain: authn.DefaultKeychain}
	if o.caFile == "" {
		return rem, nil
	}
	data, err := os.ReadFile(o.caFile)
	if err != nil {
		return rem, fmt.Errorf("--ca-file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(data) {
		return rem, fmt.Errorf("--ca-file %s: no PEM certificate in it", o.caFile)
	}
	rem.RootCAs = pool
	return rem, nil
}

// unpackLayout unpacks the image of ref (PATH[@DIGEST], PATH relative to
// the current directory) into cache.
func unpackLayout(ref, cache string) (string, string, error) {
	path, digest := ref, ""
	if i := strings.LastIndex(ref, "@"); i >= 0 && strings.Contains(ref[i+1:], ":") {
		path, digest = ref[:i], ref[i+1:]
	}
	if path == "" {
		return "", "", fmt.Errorf("%s%s names no directory: use %sPATH or %sPATH@sha256:HEX", layoutPrefix, ref, layoutPrefix, layoutPrefix)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", "", err
	}
	return oci.UnpackLayout(abs, digest, cache)
}
