package debian

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"time"

	"pault.ag/go/debian/changelog"
)

// ChangelogFile is the name used in errors about debian/changelog.
const ChangelogFile = "debian/changelog"

// ChangelogEntry is the newest entry of a debian/changelog.
type ChangelogEntry struct {
	Source       string
	Version      string
	Distribution string
	Urgency      string
	ChangedBy    string
	Date         time.Time
}

// ParseChangelogHead reads the newest (first) entry of debian/changelog.
func ParseChangelogHead(r io.Reader) (*ChangelogEntry, error) {
	// A last line without its newline is still a line.
	e, err := changelog.ParseOne(bufio.NewReader(io.MultiReader(io.LimitReader(r, maxControlSize), strings.NewReader("\n"))))
	if err != nil {
		return nil, fmt.Errorf("%s: first entry: %w", ChangelogFile, err)
	}
	return &ChangelogEntry{
		Source:       e.Source,
		Version:      e.Version.String(),
		Distribution: e.Target,
		Urgency:      e.Arguments["urgency"],
		ChangedBy:    e.ChangedBy,
		Date:         e.When,
	}, nil
}

// SourceDateEpoch is the SOURCE_DATE_EPOCH dpkg-buildpackage derives from
// debian/changelog: the date of its newest entry, in Unix seconds.
func SourceDateEpoch(r io.Reader) (int64, error) {
	e, err := ParseChangelogHead(r)
	if err != nil {
		return 0, err
	}
	return e.Date.Unix(), nil
}
