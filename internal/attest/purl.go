package attest

import (
	"path"
	"strings"
)

// Package URLs (https://github.com/package-url/purl-spec), built by hand for
// the handful of types Kiln writes.

// ociPURL: pkg:oci/<name>@sha256%3A<hex>?repository_url=<repository>.
func ociPURL(repo, hex string) string {
	repo = strings.ToLower(repo)
	p := "pkg:oci/" + purlEscape(path.Base(repo), "")
	if hex != "" {
		p += "@sha256%3A" + hex
	}
	return p + "?repository_url=" + purlEscape(repo, "/:")
}

// vcsPURL: pkg:generic/<name>@<commit>?vcs_url=<git+url@commit>.
func vcsPURL(name, commit, vcsURL string) string {
	return "pkg:generic/" + purlEscape(name, "") + "@" + purlEscape(commit, "") +
		"?vcs_url=" + purlEscape(vcsURL, "/:")
}

// genericPURL: pkg:generic/<name>?checksum=sha256:<hex>&download_url=<url>.
func genericPURL(name, url, hex string) string {
	p := "pkg:generic/" + purlEscape(name, "") + "?checksum=sha256:" + hex
	if url != "" {
		p += "&download_url=" + purlEscape(url, "/:")
	}
	return p
}

// packagePURL: pkg:deb/debian/<name>@<version>?arch=<arch> (and the
// same shape for rpm).
func packagePURL(p Package) string {
	s := "pkg:" + p.Type + "/" + purlEscape(p.Distro, "") + "/" + purlEscape(p.Name, "") + "@" + purlEscape(p.Version, "")
	if p.Arch != "" {
		s += "?arch=" + purlEscape(p.Arch, "")
	}
	return s
}

// golangPURL: pkg:golang/<module path>@<version>.
func golangPURL(module, version string) string {
	segs := strings.Split(module, "/")
	for i, s := range segs {
		segs[i] = purlEscape(s, "")
	}
	return "pkg:golang/" + strings.Join(segs, "/") + "@" + purlEscape(version, "")
}

// npmPURL: pkg:npm/[%40scope/]name[@version].
func npmPURL(name, version string) string {
	scope, base, scoped := strings.Cut(name, "/")
	p := "pkg:npm/"
	if scoped {
		p += purlEscape(scope, "") + "/" + purlEscape(base, "")
	} else {
		p += purlEscape(name, "")
	}
	if version != "" {
		p += "@" + purlEscape(version, "")
	}
	return p
}

// purlEscape percent-encodes everything but unreserved characters and keep.
func purlEscape(s, keep string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isUnreserved(c) || strings.IndexByte(keep, c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}
