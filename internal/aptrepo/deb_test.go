package aptrepo

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

func TestReadDebMatchesDpkg(t *testing.T) {
	file := buildDeb(t, "greet", "1:1.2-3", "all", "Depends: libc6 (>= 2.36) | busybox\n")
	p, err := ReadDeb(file)
	must(t, err)
	data, err := os.ReadFile(file)
	must(t, err)
	sum := sha256.Sum256(data)
	if p.Name != "greet" || p.Version != "1:1.2-3" || p.Architecture != "all" || p.Source != "greet" {
		t.Fatalf("package = %+v", p)
	}
	if p.SHA256 != hex.EncodeToString(sum[:]) || p.Size != int64(len(data)) {
		t.Fatalf("digest %s size %d, want %x %d", p.SHA256, p.Size, sum, len(data))
	}
	if got, want := p.PoolPath("main"), "pool/main/g/greet/greet_1.2-3_all.deb"; got != want {
		t.Fatalf("pool path %s, want %s", got, want)
	}
	var b strings.Builder
	must(t, p.WriteStanza(&b, "main"))
	// dpkg-deb --info prints the control file as dpkg reads it; the stanza
	// must carry the same fields, with the index fields appended.
	info, err := exec.Command("dpkg-deb", "--field", file).Output()
	must(t, err)
	want := string(info) + "Filename: pool/main/g/greet/greet_1.2-3_all.deb\nSize: " +
		strconv.FormatInt(p.Size, 10) + "\nSHA256: " + p.SHA256 + "\n\n"
	if b.String() != want {
		t.Fatalf("stanza:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestReadDebRejects(t *testing.T) {
	dir := t.TempDir()
	bad := dir + "/bad.deb"
	must(t, os.WriteFile(bad, []byte("not an ar archive"), 0o644))
	if _, err := ReadDeb(bad); err == nil || !strings.Contains(err.Error(), "bad.deb") {
		t.Fatalf("err = %v, want one naming bad.deb", err)
	}
	// A name that would step out of the pool is refused.
	evil := buildDeb(t, "ok", "1.0", "all", "")
	p, err := ReadDeb(evil)
	must(t, err)
	for _, bad := range []func(*Package){
		func(p *Package) { p.Source = "../x" },
		func(p *Package) { p.Version = "1.0/../../../x" },
		func(p *Package) { p.Architecture = "all/../.." },
		func(p *Package) { p.Name = "A" },
	} {
		q := p
		bad(&q)
		if err := q.validate(); err == nil {
			t.Errorf("%+v accepted", q)
		}
	}
}
