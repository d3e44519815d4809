package debimport

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ulikunitz/xz"
	"pault.ag/go/debian/control"

	"github.com/kilnbuild/kiln/internal/debian"
)

// Archive is one suite and component of an apt archive.
type Archive struct {
	URL       string // e.g. http://deb.debian.org/debian
	Suite     string // e.g. bookworm
	Component string // e.g. main
	// Keyring holds the keys InRelease must be signed with.
	Keyring openpgp.EntityList
	HTTP    *http.Client
	// Now is the clock Valid-Until is checked with (default time.Now).
	Now func() time.Time
}

// File is one file of a source package, as an index lists it.
type File struct {
	Name   string
	Size   int64
	SHA256 string
}

// SourcePackage is a source package's entry in the Sources index.
type SourcePackage struct {
	Name      string
	Version   string
	Directory string // pool directory, e.g. pool/main/h/hello
	Files     []File // from Checksums-Sha256
}

// maxRelease bounds InRelease.
const maxRelease = 16 << 20

// maxIndex bounds the decompressed Sources index.
const maxIndex = 1 << 30

// ReadKeyring reads an OpenPGP keyring file, binary (.gpg) or armored (.asc).
func ReadKeyring(file string) (openpgp.EntityList, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading archive keyring: %w (pass --keyring, e.g. /usr/share/keyrings/debian-archive-keyring.gpg from the debian-archive-keyring package)", err)
	}
	keys, err := openpgp.ReadKeyRing(bytes.NewReader(data))
	if err != nil {
		keys, err = openpgp.ReadArmoredKeyRing(bytes.NewReader(data))
	}
	if err != nil {
		return nil, fmt.Errorf("archive keyring %s: %w", file, err)
	}
	return keys, nil
}

// sourcesPaths are the indexes the archive may be read from, preferred
// first: the first the signed Release lists is used (the main archive
// has both, the security archive only Sources.xz).
func (a *Archive) sourcesPaths() []string {
	return []string{a.Component + "/source/Sources.xz", a.Component + "/source/Sources.gz"}
}

// Unknown is a name the Sources index has no source package of.
type Unknown struct {
	Name string
	// BinaryOf is a source package building a binary package of that name
	// ("glibc" for libc6), empty when none does.
	BinaryOf string
}

// Lookup finds the newest version of each named source package in the
// archive's Sources index, verified through the signed InRelease. The
// result has one entry per name found; missing names are in unknown.
func (a *Archive) Lookup(ctx context.Context, names []string) (found map[string]*SourcePackage, unknown []Unknown, err error) {
	index, err := a.release(ctx)
	if err != nil {
		return nil, nil, err
	}
	var path string
	var want File
	for _, p := range a.sourcesPaths() {
		if w, ok := index[p]; ok {
			path, want = p, w
			break
		}
	}
	if path == "" {
		return nil, nil, fmt.Errorf("%s: the signed Release lists neither %s (is %q a component of suite %s?)",
			a.where(), strings.Join(a.sourcesPaths(), " nor "), a.Component, a.Suite)
	}
	data, err := a.fetchVerified(ctx, "dists/"+a.Suite+"/"+path, want)
	if err != nil {
		return nil, nil, err
	}
	sc, err := scanSources(bytes.NewReader(data), strings.HasSuffix(path, ".xz"), names)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: reading %s: %w", a.where(), path, err)
	}
	for _, n := range names {
		if sc.found[n] == nil {
			unknown = append(unknown, Unknown{Name: n, BinaryOf: sc.binaryOf[n]})
		}
	}
	return sc.found, unknown, nil
}

// where names the archive in errors.
func (a *Archive) where() string { return fmt.Sprintf("%s %s/%s", a.URL, a.Suite, a.Component) }

// release fetches and verifies InRelease and returns its SHA256 list.
func (a *Archive) release(ctx context.Context) (map[string]File, error) {
	name := "dists/" + a.Suite + "/InRelease"
	data, err := a.get(ctx, name, maxRelease)
	if err != nil {
		return nil, err
	}
	pr, err := control.NewParagraphReader(bytes.NewReader(data), &a.Keyring)
	if err != nil {
		return nil, fmt.Errorf("%s: %s is not signed by a key of the archive keyring: %w", a.where(), name, err)
	}
	if pr.Signer() == nil {
		return nil, fmt.Errorf("%s: %s is not signed (an InRelease file must be clearsigned)", a.where(), name)
	}
	p, err := pr.Next()
	if err != nil {
		return nil, fmt.Errorf("%s: reading %s: %w", a.where(), name, err)
	}
	if p.Values["Codename"] != a.Suite && p.Values["Suite"] != a.Suite {
		return nil, fmt.Errorf("%s: %s is for suite %q (codename %q), not %q", a.where(), name, p.Values["Suite"], p.Values["Codename"], a.Suite)
	}
	if err := a.checkValidUntil(p.Values["Valid-Until"]); err != nil {
		return nil, fmt.Errorf("%s: %s: %w", a.where(), name, err)
	}
	return parseChecksums(p.Values["SHA256"])
}

// checkValidUntil refuses a Release past its Valid-Until (a replayed,
// outdated Release); most suites have none.
func (a *Archive) checkValidUntil(v string) error {
	if v == "" {
		return nil
	}
	until, err := time.Parse(time.RFC1123, strings.Replace(v, "UTC", "GMT", 1))
	if err != nil {
		return fmt.Errorf("bad Valid-Until %q: %w", v, err)
	}
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	if now().After(until) {
		return fmt.Errorf("expired: Valid-Until %s has passed (an outdated or replayed Release; is the mirror up to date?)", v)
	}
	return nil
}

// parseChecksums reads "sha256 size name" lines.
func parseChecksums(s string) (map[string]File, error) {
	out := map[string]File{}
	for line := range strings.Lines(s) {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) != 3 || len(f[0]) != 64 {
			return nil, fmt.Errorf("bad checksum line %q", strings.TrimSpace(line))
		}
		size, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil || size < 0 {
			return nil, fmt.Errorf("bad size in checksum line %q", strings.TrimSpace(line))
		}
		out[f[2]] = File{Name: f[2], Size: size, SHA256: strings.ToLower(f[0])}
	}
	return out, nil
}

// sourcesScan is what scanSources finds: the newest entry of each wanted
// package, and for wanted names that are binary packages, a source
// building them.
type sourcesScan struct {
	found    map[string]*SourcePackage
	binaryOf map[string]string
}

// scanSources reads a Sources index compressed with xz or gzip.
func scanSources(r io.Reader, isXZ bool, names []string) (*sourcesScan, error) {
	zr, err := decompress(r, isXZ)
	if err != nil {
		return nil, err
	}
	pr, err := control.NewParagraphReader(bufio.NewReader(io.LimitReader(zr, maxIndex)), nil)
	if err != nil {
		return nil, err
	}
	sc := &sourcesScan{found: map[string]*SourcePackage{}, binaryOf: map[string]string{}}
	for _, n := range names {
		sc.found[n] = nil
	}
	for {
		p, err := pr.Next()
		if errors.Is(err, io.EOF) {
			return sc, nil
		}
		if err != nil {
			return nil, err
		}
		if err := keepNewest(sc.found, p); err != nil {
			return nil, err
		}
		sc.noteBinaries(p)
	}
}

// noteBinaries remembers which source builds a wanted name as a binary.
func (sc *sourcesScan) noteBinaries(p *control.Paragraph) {
	for b := range strings.SplitSeq(p.Values["Binary"], ",") {
		b = strings.TrimSpace(b)
		if _, wanted := sc.found[b]; wanted && sc.binaryOf[b] == "" {
			sc.binaryOf[b] = p.Values["Package"]
		}
	}
}

// keepNewest records p when it is a wanted package newer than what is known.
func keepNewest(found map[string]*SourcePackage, p *control.Paragraph) error {
	name := p.Values["Package"]
	prev, wanted := found[name]
	if !wanted {
		return nil
	}
	sp, err := sourceEntry(p)
	if err != nil {
		return fmt.Errorf("entry of %s: %w", name, err)
	}
	if prev != nil {
		if c, err := debian.CompareVersions(sp.Version, prev.Version); err != nil || c <= 0 {
			return err
		}
	}
	found[name] = sp
	return nil
}

// sourceEntry converts one Sources paragraph.
func sourceEntry(p *control.Paragraph) (*SourcePackage, error) {
	sp := &SourcePackage{Name: p.Values["Package"], Version: p.Values["Version"], Directory: p.Values["Directory"]}
	if _, err := debian.ParseVersion(sp.Version); err != nil {
		return nil, err
	}
	if sp.Directory == "" || strings.Contains(sp.Directory, "..") || path.IsAbs(sp.Directory) {
		return nil, fmt.Errorf("bad Directory %q", sp.Directory)
	}
	files, err := parseChecksums(p.Values["Checksums-Sha256"])
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		if f.Name != filepath.Base(f.Name) || f.Name == "." || f.Name == ".." {
			return nil, fmt.Errorf("bad file name %q", f.Name)
		}
		sp.Files = append(sp.Files, f)
	}
	slices.SortFunc(sp.Files, func(a, b File) int { return strings.Compare(a.Name, b.Name) })
	if sp.dsc() == nil {
		return nil, errors.New("no .dsc file listed")
	}
	return sp, nil
}

// dsc is the package's .dsc file entry.
func (sp *SourcePackage) dsc() *File {
	for i, f := range sp.Files {
		if strings.HasSuffix(f.Name, ".dsc") {
			return &sp.Files[i]
		}
	}
	return nil
}

// get fetches a file of the archive, at most limit bytes.
func (a *Archive) get(ctx context.Context, name string, limit int64) ([]byte, error) {
	var buf bytes.Buffer
	if err := a.download(ctx, name, &buf, limit); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// download copies a file of the archive to w, at most limit bytes.
func (a *Archive) download(ctx context.Context, name string, w io.Writer, limit int64) error {
	url := strings.TrimRight(a.URL, "/") + "/" + name
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("archive URL %s: %w", url, err)
	}
	resp, err := a.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("fetching %s: %w (is the archive reachable? see --mirror)", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetching %s: %s", url, resp.Status)
	}
	n, err := io.Copy(w, io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return fmt.Errorf("fetching %s: %w", url, err)
	}
	if n > limit {
		return fmt.Errorf("fetching %s: larger than %d bytes", url, limit)
	}
	return nil
}

// fetchVerified fetches a file into memory and checks it against its
// index entry.
func (a *Archive) fetchVerified(ctx context.Context, name string, want File) ([]byte, error) {
	data, err := a.get(ctx, name, want.Size)
	if err != nil {
		return nil, err
	}
	if err := check(data, want); err != nil {
		return nil, fmt.Errorf("%s: %s: %w", a.where(), name, err)
	}
	return data, nil
}

// check compares content with an index entry.
func check(data []byte, want File) error {
	if int64(len(data)) != want.Size {
		return fmt.Errorf("size %d does not match the signed index (%d): the download is corrupt or was tampered with", len(data), want.Size)
	}
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); got != want.SHA256 {
		return fmt.Errorf("SHA-256 %s does not match the signed index (%s): the download is corrupt or was tampered with", got, want.SHA256)
	}
	return nil
}

// decompress reads an xz or gzip stream.
func decompress(r io.Reader, isXZ bool) (io.Reader, error) {
	if isXZ {
		return xz.NewReader(r)
	}
	return gzip.NewReader(r)
}
