package debian

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
	"syscall"

	"pault.ag/go/debian/deb"
)

// DebFile is one built .deb to compare.
type DebFile struct {
	Name string // for messages, e.g. "libgreet1_1.0-1+b1_amd64.deb"
	Data io.ReaderAt
}

// OpenDebFiles opens .deb files by path; close the files with the returned
// function. A path that is a symbolic link or not a regular file is an
// error (build outputs are tenant-controlled: open those through
// internal/tenantfs if their directories may hold links too).
func OpenDebFiles(paths []string) ([]DebFile, func(), error) {
	var files []*os.File
	closeAll := func() {
		for _, f := range files {
			f.Close()
		}
	}
	var out []DebFile
	for _, p := range paths {
		f, err := openRegular(p)
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("opening package: %w", err)
		}
		files = append(files, f)
		out = append(out, DebFile{Name: path.Base(p), Data: f})
	}
	return out, closeAll, nil
}

// openRegular opens a regular file, never through a final symbolic link.
func openRegular(p string) (*os.File, error) {
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	info, err := f.Stat()
	if err == nil && !info.Mode().IsRegular() {
		err = fmt.Errorf("%s is not a regular file", p)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// SamePackages decides whether two builds' .deb files are identical except
// for what a binNMU rebuild stamps into them (OBS build-compare): the
// same packages (by name and architecture), with
//
//   - the same control fields, except Version and the Source version
//     compared without a +bN suffix, "(= V+bN)" in relations as "(= V)",
//     and Installed-Size (derived from the data, which is compared);
//   - the same control members (maintainer scripts, conffiles, shlibs,
//     symbols ...), md5sums without the lines of the changelogs below;
//   - the same data.tar members by path, type, mode, owner, link target and
//     content, mtimes ignored;
//   - /usr/share/doc/*/changelog.Debian.gz and changelog.Debian.<arch>.gz
//     compared without their binNMU entries (binary-only=yes), a file
//     holding nothing else counting as absent.
//
// When they differ, reason names the first difference found (package and
// file). err is for files that cannot be read as .debs.
func SamePackages(a, b []DebFile) (same bool, reason string, err error) {
	sa, err := summarizeAll(a)
	if err != nil {
		return false, "", err
	}
	sb, err := summarizeAll(b)
	if err != nil {
		return false, "", err
	}
	if r := diffSets(sa, sb); r != "" {
		return false, r, nil
	}
	return true, "", nil
}

// debSummary is what is compared of one .deb.
type debSummary struct {
	file    string
	control map[string]string // normalised control fields
	members map[string]string // control.tar member → content digest
	data    map[string]string // data.tar path → type, mode, owner, link, digest
}

// summarizeAll reads every file, keyed "package:arch".
func summarizeAll(files []DebFile) (map[string]*debSummary, error) {
	out := make(map[string]*debSummary, len(files))
	for _, f := range files {
		s, key, err := summarize(f)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", f.Name, err)
		}
		if prev, dup := out[key]; dup {
			return nil, fmt.Errorf("%s and %s are both package %s", prev.file, f.Name, key)
		}
		out[key] = s
	}
	return out, nil
}

// diffSets compares two builds' packages.
func diffSets(a, b map[string]*debSummary) string {
	for _, k := range slices.Sorted(maps.Keys(a)) {
		if _, ok := b[k]; !ok {
			return fmt.Sprintf("package %s is not built any more", k)
		}
		if r := a[k].diff(b[k]); r != "" {
			return k + ": " + r
		}
	}
	for _, k := range slices.Sorted(maps.Keys(b)) {
		if _, ok := a[k]; !ok {
			return fmt.Sprintf("package %s is new", k)
		}
	}
	return ""
}

// diff names the first difference between two summaries of one package.
// Files come first: a content change names the file, not md5sums.
func (s *debSummary) diff(o *debSummary) string {
	if r := diffMaps(s.data, o.data, ""); r != "" {
		return r
	}
	if r := diffMaps(s.control, o.control, "control field "); r != "" {
		return r
	}
	return diffMaps(s.members, o.members, "control member ")
}

// diffMaps names the first key (in order) whose value differs.
func diffMaps(a, b map[string]string, what string) string {
	for _, k := range slices.Sorted(maps.Keys(a)) {
		v, ok := b[k]
		switch {
		case !ok:
			return fmt.Sprintf("%s%s removed", what, k)
		case v != a[k]:
			return fmt.Sprintf("%s%s differs (%s → %s)", what, k, short(a[k]), short(v))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(b)) {
		if _, ok := a[k]; !ok {
			return fmt.Sprintf("%s%s added", what, k)
		}
	}
	return ""
}

// short shortens a value for a message.
func short(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}

// summarize reads one .deb with pault.ag/go/debian/deb.
func summarize(f DebFile) (*debSummary, string, error) {
	d, err := deb.Load(f.Data, f.Name)
	if err != nil {
		return nil, "", fmt.Errorf("not a .deb: %w", err)
	}
	defer d.Close()
	s := &debSummary{file: f.Name, control: normalizeControl(d.Control.Values)}
	key := d.Control.Package + ":" + d.Control.Architecture.String()
	if s.data, err = readData(d.Data); err != nil {
		return nil, "", fmt.Errorf("data.%s: %w", d.DataExt, err)
	}
	if s.members, err = readControlMembers(d); err != nil {
		return nil, "", fmt.Errorf("control.%s: %w", d.ControlExt, err)
	}
	return s, key, nil
}

// binNMURelation matches the +bN of a version inside a relation, "(= 1.0-1+b2)".
var binNMURelation = regexp.MustCompile(`(\([<>=]+ *[^)]*?)\+b[0-9]+ *\)`)

// normalizeControl drops what a binNMU changes from control fields.
func normalizeControl(values map[string]string) map[string]string {
	out := make(map[string]string, len(values))
	for k, v := range values {
		switch strings.ToLower(k) {
		case "installed-size":
			continue
		case "version":
			v = binNMUSuffix.ReplaceAllString(v, "")
		case "source":
			// dpkg writes "Source: hello (2.10-3)" when the binary version
			// differs from the source's, and no Source: at all when the
			// binary package is named after the source and versions agree.
			v, _, _ = strings.Cut(v, " ")
			if v == values["Package"] {
				continue
			}
		default:
			v = binNMURelation.ReplaceAllString(v, "$1)")
		}
		out[k] = v
	}
	return out
}

// changelogPath matches the Debian changelogs a binNMU adds an entry to.
var changelogPath = regexp.MustCompile(`^usr/share/doc/[^/]+/changelog\.Debian(\.[^/.]+)?\.gz$`)

// maxChangelog bounds a decompressed changelog.
const maxChangelog = 64 << 20

// readData summarises the data.tar members.
func readData(tr *tar.Reader) (map[string]string, error) {
	out := map[string]string{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "./"))
		digest, keep, err := contentDigest(name, tr)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if keep {
			out[name] = fmt.Sprintf("type %c mode %o owner %d:%d (%s:%s) link %q %s", h.Typeflag, h.Mode, h.Uid, h.Gid, h.Uname, h.Gname, h.Linkname, digest)
		}
	}
}

// contentDigest hashes a member's content; a changelog is hashed without
// its binNMU entries, and dropped (keep false) when nothing else is left.
func contentDigest(name string, r io.Reader) (digest string, keep bool, err error) {
	if !changelogPath.MatchString(name) {
		h := sha256.New()
		if _, err := io.Copy(h, r); err != nil {
			return "", false, err
		}
		return "sha256:" + hex.EncodeToString(h.Sum(nil)), true, nil
	}
	text, err := gunzip(r)
	if err != nil {
		return "", false, err
	}
	rest := withoutBinNMUEntries(text)
	if strings.TrimSpace(rest) == "" {
		return "", false, nil
	}
	sum := sha256.Sum256([]byte(rest))
	return "changelog sha256:" + hex.EncodeToString(sum[:]), true, nil
}

// gunzip reads a gzip stream of at most maxChangelog bytes.
func gunzip(r io.Reader) (string, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return "", err
	}
	defer zr.Close()
	data, err := io.ReadAll(io.LimitReader(zr, maxChangelog+1))
	if err != nil {
		return "", err
	}
	if len(data) > maxChangelog {
		return "", fmt.Errorf("changelog larger than %d bytes", maxChangelog)
	}
	return string(data), nil
}

// withoutBinNMUEntries drops the changelog entries whose header says
// binary-only=yes.
func withoutBinNMUEntries(text string) string {
	var out strings.Builder
	skip := false
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 64<<10), maxChangelog)
	for sc.Scan() {
		line := sc.Text()
		if line != "" && line[0] != ' ' && line[0] != '\t' {
			skip = isBinNMUHeader(line)
		}
		if !skip {
			out.WriteString(line)
			out.WriteByte('\n')
		}
	}
	return out.String()
}

// isBinNMUHeader says whether a changelog header line has binary-only=yes
// among its options.
func isBinNMUHeader(line string) bool {
	_, opts, ok := strings.Cut(line, ";")
	if !ok {
		return false
	}
	for o := range strings.SplitSeq(opts, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(o), "=")
		if strings.EqualFold(k, "binary-only") && strings.TrimSpace(v) == "yes" {
			return true
		}
	}
	return false
}

// readControlMembers summarises control.tar's files (the control file is
// compared by fields instead).
func readControlMembers(d *deb.Deb) (map[string]string, error) {
	m, ok := d.ArContent["control."+d.ControlExt]
	if !ok {
		return nil, errors.New("missing")
	}
	if _, err := m.Data.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	tr, closer, err := m.Tarfile()
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	return controlMembers(tr)
}

// controlMembers hashes each control member; md5sums without the lines of
// the changelogs binNMUs change.
func controlMembers(tr *tar.Reader) (map[string]string, error) {
	out := map[string]string{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "./"))
		if h.Typeflag == tar.TypeDir || name == "control" {
			continue
		}
		data, err := io.ReadAll(io.LimitReader(tr, maxControlSize+1))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if name == "md5sums" {
			data = withoutChangelogSums(data)
		}
		sum := sha256.Sum256(data)
		out[name] = fmt.Sprintf("mode %o sha256:%s", h.Mode, hex.EncodeToString(sum[:]))
	}
}

// withoutChangelogSums drops md5sums lines of the changelogs.
func withoutChangelogSums(data []byte) []byte {
	var out bytes.Buffer
	for line := range bytes.Lines(data) {
		fields := strings.Fields(string(line))
		if len(fields) == 2 && changelogPath.MatchString(fields[1]) {
			continue
		}
		out.Write(line)
	}
	return out.Bytes()
}
