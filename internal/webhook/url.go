package webhook

import (
	"net/url"
	"path"
	"strings"
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
// repository names case-insensitively. file:// URLs keep their scheme and
// case (only the path is cleaned). NormalizeURL is idempotent.
func NormalizeURL(raw string) string {
	s := strings.TrimSpace(raw)
	if s == "" {
		return ""
	}
	if strings.HasPrefix(strings.ToLower(s), "file://") {
		return normalizeFile(s)
	}
	host, p := splitURL(s)
	p = strings.Trim(path.Clean("/"+p), "/")
	p = strings.TrimSuffix(strings.TrimSuffix(p, ".git"), "/")
	if p == "" {
		return strings.ToLower(host)
	}
	return strings.ToLower(host + "/" + p)
}

// splitURL returns the host (without user or port) and path of a URL in
// any of the forms git accepts.
func splitURL(s string) (host, p string) {
	if strings.Contains(s, "://") {
		u, err := url.Parse(s)
		if err != nil {
			return "", s
		}
		return u.Hostname(), u.Path
	}
	before, after, scp := strings.Cut(s, ":")
	if scp && !strings.Contains(before, "/") { // [user@]host:path
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
	return "file://" + path.Clean("/"+u.Path)
}
