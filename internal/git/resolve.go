package git

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

var commitRE = regexp.MustCompile(`^([0-9a-fA-F]{40}|[0-9a-fA-F]{64})$`)

// IsCommit reports whether ref is a full commit hash (SHA-1 or SHA-256).
func IsCommit(ref string) bool { return commitRE.MatchString(ref) }

// Resolve returns the commit that ref names in the repository at url,
// asking the remote with `git ls-remote`. ref is a branch, a tag
// (annotated tags are peeled to their commit), a full ref name
// (refs/heads/..., refs/tags/...), "HEAD" or "" for the remote's default
// branch, or a full commit hash, which is returned as is (lower-cased)
// without contacting the remote. A branch wins over a tag of the same name.
//
// Errors read "resolving <ref> of <url>: <reason>" and wrap ErrRepoNotFound,
// ErrAuth, ErrUnreachable or ErrRefNotFound where git's answer says so.
func Resolve(ctx context.Context, url, ref string, opts Options) (string, error) {
	r, err := newRunner(url, opts)
	if err != nil {
		return "", resolveErr(url, ref, err)
	}
	_, commit, err := r.resolve(ctx, "", ref)
	return commit, err
}

// resolve asks the remote for ref; it returns the full ref name ("" for a
// commit) and the commit.
func (r runner) resolve(ctx context.Context, dir, ref string) (fullRef, commit string, err error) {
	if err := checkArgs(r.url, ref); err != nil {
		return "", "", resolveErr(r.url, ref, err)
	}
	if IsCommit(ref) {
		return "", strings.ToLower(ref), nil
	}
	args := append([]string{"ls-remote", "--", r.url}, refPatterns(ref)...)
	out, err := r.run(ctx, dir, nil, args...)
	if err != nil {
		return "", "", resolveErr(r.url, ref, err)
	}
	fullRef, commit = pickRef(parseLsRemote(out), ref)
	if commit == "" {
		return "", "", resolveErr(r.url, ref, ErrRefNotFound)
	}
	return fullRef, commit, nil
}

func resolveErr(url, ref string, err error) error {
	if ref == "" {
		ref = "HEAD"
	}
	return fmt.Errorf("resolving %s of %s: %w", ref, Redact(url), err)
}

// checkArgs refuses values git could take for options.
func checkArgs(url, ref string) error {
	switch {
	case url == "":
		return errors.New("empty repository URL")
	case strings.HasPrefix(url, "-") || strings.ContainsAny(url, " \t\r\n\x00"):
		return errors.New("not a repository URL")
	case strings.HasPrefix(ref, "-") || strings.ContainsAny(ref, " \t\r\n\x00~^:?*[\\") ||
		strings.Contains(ref, ".."):
		return fmt.Errorf("%q is not a valid branch, tag or commit", ref)
	}
	return nil
}

// refPatterns are the ls-remote patterns that can name ref.
func refPatterns(ref string) []string {
	switch {
	case ref == "" || ref == "HEAD":
		return []string{"HEAD"}
	case strings.HasPrefix(ref, "refs/"):
		return []string{ref, ref + "^{}"}
	}
	return []string{"refs/heads/" + ref, "refs/tags/" + ref, "refs/tags/" + ref + "^{}"}
}

// pickRef chooses among ls-remote's answer (ref name → commit), which may
// hold more than was asked for, since ls-remote matches patterns by suffix.
func pickRef(refs map[string]string, ref string) (fullRef, commit string) {
	var candidates []string
	switch {
	case ref == "" || ref == "HEAD":
		candidates = []string{"HEAD"}
	case strings.HasPrefix(ref, "refs/"):
		candidates = []string{ref}
	default:
		candidates = []string{"refs/heads/" + ref, "refs/tags/" + ref}
	}
	for _, name := range candidates {
		if c, ok := refs[name+"^{}"]; ok {
			return name, c
		}
		if c, ok := refs[name]; ok {
			return name, c
		}
	}
	return "", ""
}

// parseLsRemote reads "<hash>\t<ref>" lines.
func parseLsRemote(out []byte) map[string]string {
	refs := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		hash, name, ok := strings.Cut(sc.Text(), "\t")
		if ok && IsCommit(hash) {
			refs[name] = hash
		}
	}
	return refs
}

// Redact hides a password or token someone put in a URL's user info, so
// the URL can be shown in errors and logs. For http(s) the whole user info
// goes, since a token is often given as the user name.
func Redact(u string) string {
	if !strings.Contains(u, "://") || !strings.Contains(u, "@") {
		return u
	}
	p, err := url.Parse(u)
	if err != nil || p.User == nil {
		return u
	}
	if p.Scheme == "http" || p.Scheme == "https" {
		p.User = url.User("xxxxx")
		return p.String()
	}
	return p.Redacted()
}
