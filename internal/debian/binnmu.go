package debian

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// DefaultBinNMUMaintainer signs binNMU changelog entries when the caller
// names nobody.
const DefaultBinNMUMaintainer = "Kiln <kiln@kiln.invalid>"

// maxBinNMU bounds binNMU counters (no overflow, short versions).
const maxBinNMU = 1 << 20

// binNMUSuffix matches a trailing binNMU counter, "+b3".
var binNMUSuffix = regexp.MustCompile(`\+b([0-9]+)$`)

// BinNMU returns the version of the n-th binary-only rebuild on top of
// version, Debian's binNMU convention: "1.2-3" → "1.2-3+b1" for n = 1; a
// version that already ends in +bM gets +b(M+n) ("1.2-3+b1" → "1.2-3+b2"),
// so a rebuild of a rebuild still sorts newer. The epoch is kept. The
// result sorts newer than version by dpkg's rules.
func BinNMU(version string, n int) (string, error) {
	if n < 1 || n > maxBinNMU {
		return "", fmt.Errorf("binNMU number %d for version %s: it must be between 1 and %d", n, version, maxBinNMU)
	}
	v, err := ParseVersion(version)
	if err != nil {
		return "", err
	}
	base, count := v.String(), 0
	if m := binNMUSuffix.FindStringSubmatchIndex(base); m != nil {
		count, err = strconv.Atoi(base[m[2]:m[3]])
		if err != nil {
			return "", fmt.Errorf("binNMU counter of version %s: %w", version, err)
		}
		base = base[:m[0]]
	}
	if count > maxBinNMU-n {
		return "", fmt.Errorf("binNMU counter of version %s: more than %d rebuilds", version, maxBinNMU)
	}
	return fmt.Sprintf("%s+b%d", base, count+n), nil
}

// BinNMUEntry describes a binNMU changelog entry.
type BinNMUEntry struct {
	Source       string // source package name
	Version      string // the binNMU version, from BinNMU
	Distribution string // e.g. "bookworm"
	Arch         string // the architecture rebuilt, e.g. "amd64"
	// Reason says why, naming the dependency that changed, e.g. "Rebuild
	// against libgreet1 1.0-2 (was 1.0-1)". Runs of white space, line
	// breaks included, become one space: the reason is one bullet.
	Reason     string
	Maintainer string    // "Name <email>"; DefaultBinNMUMaintainer when empty
	Date       time.Time // the entry's date; use SOURCE_DATE_EPOCH for reproducible builds
}

// BinNMUChangelogEntry formats the entry sbuild writes on top of
// debian/changelog for a binNMU (urgency low, binary-only=yes), ending in
// a blank line so it can be prepended to the existing changelog as is:
//
//	hello (2.10-3+b1) bookworm; urgency=low, binary-only=yes
//
//	  * Binary-only non-maintainer upload for amd64; no source changes.
//	  * Rebuild against libgreet1 1.0-2 (was 1.0-1)
//
//	 -- Kiln <kiln@kiln.invalid>  Sun, 06 Dec 2026 10:00:00 +0000
func BinNMUChangelogEntry(e BinNMUEntry) (string, error) {
	if err := e.check(); err != nil {
		return "", err
	}
	maint := e.Maintainer
	if maint == "" {
		maint = DefaultBinNMUMaintainer
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s) %s; urgency=low, binary-only=yes\n\n", e.Source, e.Version, e.Distribution)
	fmt.Fprintf(&b, "  * Binary-only non-maintainer upload for %s; no source changes.\n", e.Arch)
	fmt.Fprintf(&b, "  * %s\n\n", strings.Join(strings.Fields(e.Reason), " "))
	fmt.Fprintf(&b, " -- %s  %s\n\n", maint, e.Date.UTC().Format(time.RFC1123Z))
	return b.String(), nil
}

// check refuses entries dpkg-parsechangelog could not read back.
func (e BinNMUEntry) check() error {
	if !ValidPackageName(e.Source) {
		return fmt.Errorf("binNMU changelog entry: source %q is not a valid package name", e.Source)
	}
	if _, err := ParseVersion(e.Version); err != nil {
		return fmt.Errorf("binNMU changelog entry for %s: %w", e.Source, err)
	}
	for _, w := range [][2]string{{"distribution", e.Distribution}, {"architecture", e.Arch}} {
		if w[1] == "" || strings.ContainsAny(w[1], " \t\n;()") {
			return fmt.Errorf("binNMU changelog entry for %s: %s %q must be one word", e.Source, w[0], w[1])
		}
	}
	if strings.TrimSpace(e.Reason) == "" {
		return fmt.Errorf("binNMU changelog entry for %s: the reason is empty (name the dependency that changed)", e.Source)
	}
	if e.Date.IsZero() {
		return fmt.Errorf("binNMU changelog entry for %s: no date (pass the time of SOURCE_DATE_EPOCH)", e.Source)
	}
	if strings.ContainsAny(e.Maintainer, "\n") {
		return fmt.Errorf("binNMU changelog entry for %s: maintainer %q spans lines", e.Source, e.Maintainer)
	}
	return nil
}
