package aptrepo

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/kilnbuild/kiln/internal/oci"
)

// AnnotationTitle names a layer's file.
const AnnotationTitle = oci.AnnotationTitle

// FetchDebs writes the .deb files of the artifact ref (pinned by digest)
// into dir and returns their paths. Two layouts are read: a layer per file
// titled by its file name (org.opencontainers.image.title: foo.deb), and
// tar layers holding *.deb files (an artifact pushed from a directory).
// Other files are ignored; blobs are checked against their digests.
func FetchDebs(ctx context.Context, ref string, rem oci.Remote, dir string) ([]string, error) {
	out, err := fetchDebs(ctx, ref, rem, dir)
	if err != nil {
		return nil, fmt.Errorf("reading the .deb files of %s: %w", ref, err)
	}
	return out, nil
}

func fetchDebs(ctx context.Context, ref string, rem oci.Remote, dir string) ([]string, error) {
	if _, _, ok := oci.SplitDigest(ref); !ok {
		return nil, errors.New("the artifact is not pinned by digest")
	}
	parsed, err := name.ParseReference(ref, rem.NameOptions()...)
	if err != nil {
		return nil, err
	}
	img, err := remote.Image(parsed, rem.RemoteOptions(ctx)...)
	if err != nil {
		return nil, err
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, err
	}
	var files []string
	for i, desc := range m.Layers {
		got, err := layerDebs(img, desc, filepath.Join(dir, fmt.Sprint(i)))
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", i, err)
		}
		files = append(files, got...)
	}
	return files, nil
}

// layerDebs writes the .debs of one layer into dir.
func layerDebs(img v1.Image, desc v1.Descriptor, dir string) ([]string, error) {
	title := desc.Annotations[AnnotationTitle]
	isTar := strings.Contains(string(desc.MediaType), "tar")
	if !strings.HasSuffix(title, ".deb") && !isTar {
		return nil, nil
	}
	l, err := img.LayerByDigest(desc.Digest)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if strings.HasSuffix(title, ".deb") {
		if title != path.Base(title) || strings.HasPrefix(title, ".") {
			return nil, fmt.Errorf("title %q is not a file name", title)
		}
		rc, err := l.Compressed() // the blob as stored: the .deb itself
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		file := filepath.Join(dir, title)
		return []string{file}, writeNew(file, rc)
	}
	rc, err := l.Uncompressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return tarDebs(rc, dir)
}

// tarDebs writes the regular *.deb files of a tar stream into dir, each
// under its base name in a directory of its own (two may share a name).
func tarDebs(r io.Reader, dir string) ([]string, error) {
	tr := tar.NewReader(r)
	var out []string
	for n := 0; ; n++ {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		base := path.Base(h.Name)
		if h.Typeflag != tar.TypeReg || !strings.HasSuffix(base, ".deb") || strings.HasPrefix(base, ".") {
			continue
		}
		sub := filepath.Join(dir, fmt.Sprint(n))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			return nil, err
		}
		file := filepath.Join(sub, base)
		if err := writeNew(file, tr); err != nil {
			return nil, err
		}
		out = append(out, file)
	}
}

// writeNew copies r into a new file; reading r to its end is what makes a
// registry blob's digest checked.
func writeNew(file string, r io.Reader) error {
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, r)
	return errors.Join(err, f.Close())
}
