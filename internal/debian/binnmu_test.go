package debian

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestBinNMU(t *testing.T) {
	cases := []struct {
		in   string
		n    int
		want string
	}{
		{"1.2-3", 1, "1.2-3+b1"},
		{"1.2-3", 2, "1.2-3+b2"},
		{"1.2-3+b1", 1, "1.2-3+b2"},
		{"1.2-3+b9", 1, "1.2-3+b10"},
		{"1:2.10-3", 1, "1:2.10-3+b1"},
		{"2:1.0-1+b4", 3, "2:1.0-1+b7"},
		{"1.0", 1, "1.0+b1"}, // native package
		{"1.0+dfsg-1", 1, "1.0+dfsg-1+b1"},
		{"1.0-1~bpo12+1", 1, "1.0-1~bpo12+1+b1"},
	}
	for _, tc := range cases {
		got, err := BinNMU(tc.in, tc.n)
		if err != nil || got != tc.want {
			t.Errorf("BinNMU(%q, %d) = %q, %v; want %q", tc.in, tc.n, got, err, tc.want)
			continue
		}
		if c, err := CompareVersions(got, tc.in); err != nil || c <= 0 {
			t.Errorf("%s does not sort newer than %s (compare = %d, %v)", got, tc.in, c, err)
		}
	}
}

func TestBinNMUSortsBeforeTheNextUpload(t *testing.T) {
	for _, next := range []string{"1.2-4", "1.2-3.1", "1.2-3+deb12u1", "1.3-1"} {
		if c, err := CompareVersions("1.2-3+b1", next); err != nil || c >= 0 {
			t.Errorf("1.2-3+b1 must sort before the next upload %s (compare = %d, %v)", next, c, err)
		}
	}
}

func TestBinNMUErrors(t *testing.T) {
	for _, tc := range []struct {
		v    string
		n    int
		want string
	}{
		{"1.2-3", 0, "between 1 and"},
		{"1.2-3+b1048576", 1, "more than 1048576 rebuilds"},
		{"1.2-3+b99999999999999999999", 1, "binNMU counter of version"},
		{"", 1, "invalid Debian version"},
		{"a.b", 1, "does not start with digit"},
		{"1.2 3", 1, "embedded spaces"},
	} {
		if _, err := BinNMU(tc.v, tc.n); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("BinNMU(%q, %d) error = %v, want %q", tc.v, tc.n, err, tc.want)
		}
	}
}

func TestCompareVersions(t *testing.T) {
	less := [][2]string{
		{"1.0~rc1-1", "1.0-1"}, {"1.0-1", "1.0-1+b1"}, {"1.0-1+b1", "1.0-1+b2"},
		{"1.0-1+b9", "1.0-1+b10"}, {"9.9-9", "1:0.1-1"}, {"1.0", "1.0-0.1"}, {"2.10-3", "2.10-3+b1"},
	}
	for _, p := range less {
		if c, err := CompareVersions(p[0], p[1]); err != nil || c >= 0 {
			t.Errorf("CompareVersions(%s, %s) = %d, %v; want < 0", p[0], p[1], c, err)
		}
		if c, _ := CompareVersions(p[1], p[0]); c <= 0 {
			t.Errorf("CompareVersions(%s, %s) = %d; want > 0", p[1], p[0], c)
		}
	}
	if c, err := CompareVersions("0:1.0-1", "1.0-1"); err != nil || c != 0 {
		t.Errorf("an epoch of 0 equals none: %d, %v", c, err)
	}
	if _, err := CompareVersions("1.0", "x"); err == nil {
		t.Error("an invalid version compared without error")
	}
}

func TestDepSatisfies(t *testing.T) {
	d := Dep{Name: "libfoo-dev", Op: ">=", Version: "1.2~"}
	for v, want := range map[string]bool{"1.2~rc1": true, "1.2~": true, "1.2~~": false, "1.2-1": true, "1.1-9": false} {
		if got, err := d.Satisfies(v); err != nil || got != want {
			t.Errorf("%s satisfied by %s = %v, %v; want %v", d, v, got, err, want)
		}
	}
}

func helloEntry() BinNMUEntry {
	return BinNMUEntry{
		Source: "hello", Version: "2.10-3+b1", Distribution: "bookworm", Arch: "amd64",
		Reason: "Rebuild against libgreet1 1.0-2\n (was 1.0-1).",
		Date:   time.Unix(1676723619, 0).In(time.FixedZone("CET", 3600)),
	}
}

func TestBinNMUChangelogEntryGolden(t *testing.T) {
	got, err := BinNMUChangelogEntry(helloEntry())
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "hello.binnmu.changelog", []byte(got))
	head, err := ParseChangelogHead(strings.NewReader(got))
	if err != nil {
		t.Fatal(err)
	}
	if head.Version != "2.10-3+b1" || head.Distribution != "bookworm" || head.Urgency != "low" || head.ChangedBy != DefaultBinNMUMaintainer || head.Date.Unix() != 1676723619 {
		t.Errorf("entry read back as %+v", head)
	}
}

// TestBinNMUChangelogEntryDpkg checks the entry with dpkg's own parser.
func TestBinNMUChangelogEntryDpkg(t *testing.T) {
	if _, err := exec.LookPath("dpkg-parsechangelog"); err != nil {
		t.Skip("dpkg-parsechangelog is not installed (apt-get install dpkg-dev)")
	}
	entry, err := BinNMUChangelogEntry(helloEntry())
	if err != nil {
		t.Fatal(err)
	}
	orig, err := os.ReadFile(filepath.Join("testdata", "hello.changelog"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "changelog")
	if err := os.WriteFile(path, append([]byte(entry), orig...), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("dpkg-parsechangelog", "-l", path).CombinedOutput()
	if err != nil || strings.Contains(string(out), "warning") {
		t.Fatalf("dpkg-parsechangelog: %v\n%s", err, out)
	}
	for _, want := range []string{"Version: 2.10-3+b1", "Distribution: bookworm", "Urgency: low", "Binary-Only: yes", "Timestamp: 1676723619", "Maintainer: Kiln <kiln@kiln.invalid>", "Rebuild against libgreet1 1.0-2 (was 1.0-1)."} {
		if !strings.Contains(string(out), want) {
			t.Errorf("dpkg-parsechangelog output lacks %q:\n%s", want, out)
		}
	}
}

func TestBinNMUChangelogEntryErrors(t *testing.T) {
	for _, tc := range []struct {
		edit func(*BinNMUEntry)
		want string
	}{
		{func(e *BinNMUEntry) { e.Reason = " \n" }, "the reason is empty"},
		{func(e *BinNMUEntry) { e.Date = time.Time{} }, "no date"},
		{func(e *BinNMUEntry) { e.Version = "x" }, "invalid Debian version"},
		{func(e *BinNMUEntry) { e.Distribution = "bookworm; urgency=high" }, "must be one word"},
		{func(e *BinNMUEntry) { e.Source = "Hello World" }, "not a valid package name"},
		{func(e *BinNMUEntry) { e.Maintainer = "a\n -- b" }, "spans lines"},
	} {
		e := helloEntry()
		tc.edit(&e)
		if _, err := BinNMUChangelogEntry(e); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error = %v, want %q", err, tc.want)
		}
	}
}

func TestSourceDateEpoch(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "hello.changelog"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := SourceDateEpoch(f)
	if err != nil || got != 1676723619 {
		t.Errorf("SourceDateEpoch = %d, %v; want 1676723619", got, err)
	}
	if _, err := SourceDateEpoch(strings.NewReader("hello (2.10-3) unstable; urgency=medium\n\n  * x\n\n -- A <a@b>  not a date\n")); err == nil || !strings.Contains(err.Error(), "debian/changelog") {
		t.Errorf("a bad date: error = %v", err)
	}
}

func TestParseChangelogHeadWithoutFinalNewline(t *testing.T) {
	e, err := ParseChangelogHead(strings.NewReader("hello (2.10-3) unstable; urgency=medium\n\n  * x\n\n -- A <a@b.c>  Sat, 18 Feb 2023 13:33:39 +0100"))
	if err != nil || e.Version != "2.10-3" {
		t.Fatalf("%+v, %v", e, err)
	}
}
