package webhook

import (
	"fmt"
	"net"
	"net/url"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"
)

// NormalizeURL reduces the many spellings of a repository's address to
// one, "host/owner/repo", so a forge's event can be matched with the URL a
// Component was configured with:
//
//	https://GitHub.com/Org/Repo.git  ssh://git@github.com:22/org/repo
//	git@github.com:org/repo.git      git://github.com/org/repo/
//
// all become "github.com/org/repo". Scheme, user info, port, query,
// trailing slashes and a trailing ".git" are dropped and the result is
// lower-cased, since GitHub, GitLab, Forgejo and Gitea treat owner and
// repository names case-insensitively. An IPv6 host keeps its brackets;
// bytes that cannot be part of a host name are %-escaped. file:// URLs keep
// their scheme and case (only the path is cleaned, still escaped).
// NormalizeURL is idempotent (FuzzNormalizeURL checks it): the result is
// its own normal form, which is why a trailing ".git" is dropped as many
// times as it appears.
func NormalizeURL(raw string) string {
	s := strings.TrimSpace(raw)
	if s == "" {
		return ""
	}
	if strings.HasPrefix(strings.ToLower(s), "file://") {
		return normalizeFile(s)
	}
	host, p := splitURL(s)
	host, p = normalHost(host), cleanRepoPath(strings.ToLower(p))
	if p == "" {
		return host
	}
	return host + "/" + p
}

// cleanRepoPath drops empty and dot segments, surrounding slashes and
// spaces, and a trailing ".git", until nothing changes (so that the result
// is its own normal form: "x.git.git" is "x").
func cleanRepoPath(p string) string {
	for {
		q := strings.TrimSpace(strings.Trim(path.Clean("/"+p), "/"))
		q = strings.TrimSuffix(strings.TrimSuffix(q, ".git"), "/")
		if q == p {
			return p
		}
		p = q
	}
}

// normalHost lower-cases a host and escapes every byte that may not
// appear in a host name (RFC 3986 reg-name), so that the normalised URL
// splits into the same host and path again; a bracketed IPv6 address stays
// as it is.
func normalHost(h string) string {
	h = strings.ToLower(strings.TrimSpace(h))
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") && isIPv6(h[1:len(h)-1]) {
		return h
	}
	var b strings.Builder
	for i := 0; i < len(h); i++ {
		if c := h[i]; c < utf8.RuneSelf && (unicode.IsLetter(rune(c)) || unicode.IsDigit(rune(c)) || strings.IndexByte("-._~%!$&'()*+,;=", c) >= 0) {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02x", h[i])
	}
	return b.String()
}

func isIPv6(s string) bool {
	ip := net.ParseIP(s)
	return ip != nil && strings.Contains(s, ":")
}

// splitURL returns the host (without user or port) and path of a URL in
// any of the forms git accepts.
func splitURL(s string) (host, p string) {
	if !strings.Contains(s, "://") {
		return splitSCP(s)
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", s
	}
	if h := u.Hostname(); strings.Contains(h, ":") {
		return "[" + h + "]", u.Path // IPv6: keep the brackets, as a normalised URL must parse again
	}
	return u.Hostname(), u.Path
}

// splitSCP splits [user@]host:path, [user@][IPv6]:path and host/path.
func splitSCP(s string) (host, p string) {
	if at := strings.IndexByte(s, '@'); at >= 0 && !strings.ContainsAny(s[:at], "/:[") && strings.HasPrefix(s[at+1:], "[") {
		s = s[at+1:]
	}
	if end := strings.IndexByte(s, ']'); strings.HasPrefix(s, "[") && end > 0 && isIPv6(s[1:end]) {
		return s[:end+1], strings.TrimPrefix(s[end+1:], ":")
	}
	before, after, scp := strings.Cut(s, ":")
	if scp && !strings.Contains(before, "/") {
		if i := strings.LastIndexByte(before, '@'); i >= 0 {
			before = before[i+1:]
		}
		return before, after
	}
	host, p, _ = strings.Cut(s, "/") // already host/path
	return host, p
}

func normalizeFile(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return s
	}
	return "file://" + path.Clean("/"+u.EscapedPath()) // escaped: "%2541" stays, not "%41"
}
