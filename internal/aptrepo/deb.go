package aptrepo

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"regexp"
	"strings"

	"pault.ag/go/debian/control"
	"pault.ag/go/debian/deb"
)

// Package is one binary package: its control stanza as the .deb carries
// it, and where and what the file is.
type Package struct {
	Name, Version, Architecture, Source string
	// Control is the .deb's DEBIAN/control paragraph, in its order.
	Control control.Paragraph
	// Path is the .deb on this machine.
	Path   string
	Size   int64
	SHA256 string
}

// indexFields are what a repository writes into a stanza itself; a .deb
// that carries them in its control file has them ignored.
var indexFields = map[string]bool{"Filename": true, "Size": true, "MD5sum": true, "SHA1": true, "SHA256": true, "SHA512": true}

// namePattern is Debian policy's package name (5.6.1), versionPattern
// the characters of a version (5.6.12) and archPattern an architecture
// name; all end up in pool paths.
var (
	namePattern    = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]+$`)
	versionPattern = regexp.MustCompile(`^[A-Za-z0-9.+~:-]+$`)
	archPattern    = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
)

// ReadDeb reads a .deb's control file and digests the file.
func ReadDeb(file string) (Package, error) {
	p, err := readDeb(file)
	if err != nil {
		return Package{}, fmt.Errorf("reading %s: %w", path.Base(file), err)
	}
	return p, nil
}

func readDeb(file string) (Package, error) {
	f, err := os.Open(file)
	if err != nil {
		return Package{}, err
	}
	defer f.Close()
	d, err := loadDeb(f, file)
	if err != nil {
		return Package{}, fmt.Errorf("not a Debian binary package: %w", err)
	}
	defer d.Close()
	p := Package{Name: d.Control.Package, Version: d.Control.Version.String(), Architecture: d.Control.Architecture.String(),
		Source: sourceName(d.Control.SourceName()), Control: d.Control.Paragraph, Path: file}
	if err := p.validate(); err != nil {
		return Package{}, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return Package{}, err
	}
	h := sha256.New()
	if p.Size, err = io.Copy(h, f); err != nil {
		return Package{}, err
	}
	p.SHA256 = hex.EncodeToString(h.Sum(nil))
	return p, nil
}

// loadDeb parses a .deb, which a tenant's build made: a parser panic on
// a malformed file becomes an error, not a crash of the server.
func loadDeb(f io.ReaderAt, file string) (d *deb.Deb, err error) {
	defer func() {
		if r := recover(); r != nil {
			d, err = nil, fmt.Errorf("malformed package: %v", r)
		}
	}()
	return deb.Load(f, file)
}

// sourceName drops the version a Source field may carry: "foo (1.2-1)".
func sourceName(s string) string {
	name, _, _ := strings.Cut(strings.TrimSpace(s), " ")
	return name
}

func (p Package) validate() error {
	switch {
	case !namePattern.MatchString(p.Name):
		return fmt.Errorf("package name %q is not a Debian package name (lower-case letters, digits, + - .)", p.Name)
	case !namePattern.MatchString(p.Source):
		return fmt.Errorf("source name %q is not a Debian package name", p.Source)
	case !archPattern.MatchString(p.Architecture):
		return fmt.Errorf("architecture %q is not an architecture name", p.Architecture)
	case !versionPattern.MatchString(p.Version):
		return fmt.Errorf("version %q is not a Debian version", p.Version)
	}
	return nil
}

// FileName is the conventional name of the package's file:
// NAME_VERSION_ARCH.deb, without the epoch.
func (p Package) FileName() string {
	v := p.Version
	if _, rest, ok := strings.Cut(v, ":"); ok {
		v = rest
	}
	return p.Name + "_" + v + "_" + p.Architecture + ".deb"
}

// PoolPath is where the package lives in the repository:
// pool/COMPONENT/PREFIX/SOURCE/FILE, PREFIX being the source's first
// letter, or its first four for lib* sources, as in Debian's archive.
func (p Package) PoolPath(component string) string {
	prefix := p.Source[:1]
	if strings.HasPrefix(p.Source, "lib") && len(p.Source) > 3 {
		prefix = p.Source[:4]
	}
	return path.Join("pool", component, prefix, p.Source, p.FileName())
}

// WriteStanza writes the package's Packages stanza: the control fields in
// the .deb's order, then Filename, Size and SHA256.
func (p Package) WriteStanza(w io.Writer, component string) error {
	var b strings.Builder
	for _, k := range p.Control.Order {
		if indexFields[k] {
			continue
		}
		writeField(&b, k, p.Control.Values[k])
	}
	writeField(&b, "Filename", p.PoolPath(component))
	writeField(&b, "Size", fmt.Sprint(p.Size))
	writeField(&b, "SHA256", p.SHA256)
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// writeField writes a deb822 field. Multi-line values (as the control
// parser stores them: continuation lines without their leading space, an
// empty line for " .") get their continuation lines back.
func writeField(b *strings.Builder, key, value string) {
	lines := strings.Split(strings.TrimRight(value, "\n"), "\n")
	b.WriteString(key + ":")
	if lines[0] != "" {
		b.WriteString(" " + lines[0])
	}
	b.WriteString("\n")
	for _, l := range lines[1:] {
		if strings.TrimSpace(l) == "" {
			l = "."
		}
		b.WriteString(" " + l + "\n")
	}
}

// errNoPackages is returned when a repository would have no package.
var errNoPackages = errors.New("no Debian packages")
