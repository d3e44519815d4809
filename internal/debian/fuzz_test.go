package debian

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseControl: any input parses or fails with a *SyntaxError naming a
// line inside the input, never panics; relations of a parsed file have at
// least one alternative each and lines inside the file.
func FuzzParseControl(f *testing.F) {
	for _, name := range []string{"libgreet.control"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("Source: a1\nBuild-Depends: x [\n\nPackage: a1\nArchitecture: any\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		lines := bytes.Count(data, []byte("\n")) + 1
		c, err := ParseControl(bytes.NewReader(data))
		if err != nil {
			se, ok := err.(*SyntaxError)
			if !ok || se.Line < 0 || se.Line > lines {
				t.Fatalf("error %v (%T) is not a *SyntaxError with a line of the file", err, err)
			}
			return
		}
		for _, profiles := range [][]string{nil, {"nocheck"}} {
			for _, r := range c.Source.BuildDepends("amd64", profiles) {
				if len(r.Alternatives) == 0 || r.Line < 1 || r.Line > lines {
					t.Fatalf("relation %+v", r)
				}
			}
		}
		for _, b := range c.Binaries {
			b.Built("amd64", nil)
		}
	})
}

// FuzzBinNMU: BinNMU of any version either fails or sorts newer.
func FuzzBinNMU(f *testing.F) {
	for _, v := range []string{"1.2-3", "1:2.10-3+b4", "1.0", "1.0~rc1+dfsg-2~bpo12+1"} {
		f.Add(v, 1)
	}
	f.Fuzz(func(t *testing.T, v string, n int) {
		got, err := BinNMU(v, n)
		if err != nil {
			return
		}
		if c, err := CompareVersions(got, v); err != nil || c <= 0 {
			t.Fatalf("BinNMU(%q, %d) = %q does not sort newer (%d, %v)", v, n, got, c, err)
		}
	})
}
