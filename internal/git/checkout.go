package git

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"
	"time"
)

// TreeInfo describes the tree of a commit (or of one sub-directory of it).
type TreeInfo struct {
	// Commit is the full commit hash.
	Commit string
	// Subdir is the exported sub-directory, cleaned; "" for the root.
	Subdir string
	// Tree is the hash of Subdir's tree at Commit (`git rev-parse
	// <commit>:<subdir>`). Equal trees have equal hashes whatever the
	// commit, so a change elsewhere in the repository leaves it unchanged.
	Tree string
	// AuthorTime and CommitTime are the commit's author and committer
	// dates, in the time zone recorded with them.
	AuthorTime time.Time
	CommitTime time.Time
	// Subject is the first paragraph of the commit message, on one line.
	Subject string
}

// SourceDateEpoch is the value of SOURCE_DATE_EPOCH for a reproducible
// build of t: the committer date in decimal Unix seconds, the time the
// sources last changed (what `git log -1 --format=%ct` prints).
func (t TreeInfo) SourceDateEpoch() string {
	return strconv.FormatInt(t.CommitTime.Unix(), 10)
}

// Inspect describes the tree of subdir at commit (a full hash) without
// exporting it, fetching the commit first if the mirror lacks it. Comparing
// Tree with a previous build's tree decides whether a build is needed.
func (c *Cache) Inspect(ctx context.Context, url, commit, subdir string) (TreeInfo, error) {
	info, _, err := c.lockedInspect(ctx, url, commit, subdir)
	if err != nil {
		return TreeInfo{}, err
	}
	defer info.unlock()
	return info.TreeInfo, nil
}

// Checkout exports the tree of subdir ("" for the whole repository; the
// Component's context) at commit (a full hash) into dest, without a .git
// directory, fetching the commit first if the mirror lacks it. dest must
// be absent or empty; on error it may hold part of the tree. Files are
// written byte for byte as committed (the repository's .gitattributes
// filters do not apply), with mode 0644 or 0755 and the commit's date as
// modification time.
func (c *Cache) Checkout(ctx context.Context, url, commit, dest, subdir string) (TreeInfo, error) {
	info, m, err := c.lockedInspect(ctx, url, commit, subdir)
	if err != nil {
		return TreeInfo{}, err
	}
	defer info.unlock()
	if err := m.export(ctx, info.Tree, dest, info.CommitTime); err != nil {
		return TreeInfo{}, fmt.Errorf("checking out %s of %s into %s: %w", short(commit), Redact(url), dest, err)
	}
	return info.TreeInfo, nil
}

type lockedInfo struct {
	TreeInfo
	unlock func()
}

// lockedInspect returns the info with the mirror's read lock held.
func (c *Cache) lockedInspect(ctx context.Context, url, commit, subdir string) (lockedInfo, *mirror, error) {
	fail := func(err error) (lockedInfo, *mirror, error) {
		return lockedInfo{}, nil, fmt.Errorf("reading %s of %s: %w", short(commit), Redact(url), err)
	}
	if !IsCommit(commit) {
		return fail(fmt.Errorf("%q is not a full commit hash: fetch the branch or tag first", commit))
	}
	commit = strings.ToLower(commit)
	sub, err := cleanSubdir(subdir)
	if err != nil {
		return fail(err)
	}
	m, err := c.open(url)
	if err != nil {
		return fail(err)
	}
	for attempt := 0; ; attempt++ {
		m.mu.RLock()
		info, err := m.inspect(ctx, commit, sub)
		if err == nil {
			return lockedInfo{TreeInfo: info, unlock: m.mu.RUnlock}, m, nil
		}
		m.mu.RUnlock()
		if !errors.Is(err, errMissing) || attempt > 0 {
			return fail(err)
		}
		if _, err := c.Fetch(ctx, url, commit); err != nil {
			return lockedInfo{}, nil, err
		}
	}
}

func short(commit string) string {
	if len(commit) > 12 {
		return commit[:12]
	}
	return commit
}

// cleanSubdir checks and cleans a sub-directory relative to the root.
func cleanSubdir(s string) (string, error) {
	if path.IsAbs(s) || strings.ContainsAny(s, "\x00\n") {
		return "", fmt.Errorf("sub-directory %q must be a relative path", s)
	}
	for _, part := range strings.Split(s, "/") {
		if part == ".." {
			return "", fmt.Errorf("sub-directory %q must not contain ..", s)
		}
	}
	return path.Clean("/" + s)[1:], nil
}

var errMissing = errors.New("commit not in mirror")

// inspect reads the commit and the sub-directory's tree hash with one
// `git cat-file --batch`.
func (m *mirror) inspect(ctx context.Context, commit, sub string) (TreeInfo, error) {
	if !existsDir(m.dir) {
		return TreeInfo{}, errMissing
	}
	in := commit + "\n"
	if sub != "" {
		in += commit + ":" + sub + "\n"
	}
	out, err := m.r.run(ctx, m.dir, strings.NewReader(in), "cat-file", "--batch")
	if err != nil {
		return TreeInfo{}, err
	}
	objs, err := parseBatch(out)
	if err != nil {
		return TreeInfo{}, err
	}
	if objs[0].missing || objs[0].kind != "commit" {
		return TreeInfo{}, errMissing
	}
	info, err := parseCommit(objs[0].body)
	if err != nil {
		return TreeInfo{}, err
	}
	info.Commit, info.Subdir = commit, sub
	if sub != "" {
		if objs[1].missing || objs[1].kind != "tree" {
			return TreeInfo{}, fmt.Errorf("no directory %q in the commit", sub)
		}
		info.Tree = objs[1].hash
	}
	return info, nil
}

type batchObject struct {
	hash, kind string
	missing    bool
	body       []byte
}

// parseBatch reads `git cat-file --batch` output: per object a header
// "<hash> <type> <size>" and the content, or "<name> missing".
func parseBatch(out []byte) ([]batchObject, error) {
	var objs []batchObject
	br := bufio.NewReader(bytes.NewReader(out))
	for {
		line, err := br.ReadString('\n')
		if err == io.EOF {
			return objs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading cat-file output: %w", err)
		}
		f := strings.Fields(line)
		if strings.HasSuffix(line, " missing\n") || strings.HasSuffix(line, " ambiguous\n") || len(f) != 3 {
			objs = append(objs, batchObject{missing: true})
			continue
		}
		size, err := strconv.Atoi(f[2])
		if err != nil {
			return nil, fmt.Errorf("reading cat-file output: bad size %q", f[2])
		}
		body := make([]byte, size+1) // content and a newline
		if _, err := io.ReadFull(br, body); err != nil {
			return nil, fmt.Errorf("reading cat-file output: %w", err)
		}
		objs = append(objs, batchObject{hash: f[0], kind: f[1], body: body[:size]})
	}
}

// parseCommit reads the tree, dates and subject of a raw commit object.
func parseCommit(raw []byte) (TreeInfo, error) {
	header, msg, _ := strings.Cut(string(raw), "\n\n")
	var info TreeInfo
	for _, line := range strings.Split(header, "\n") {
		key, val, _ := strings.Cut(line, " ")
		var err error
		switch key {
		case "tree":
			info.Tree = val
		case "author":
			info.AuthorTime, err = parseSignatureTime(val)
		case "committer":
			info.CommitTime, err = parseSignatureTime(val)
		}
		if err != nil {
			return TreeInfo{}, err
		}
	}
	para, _, _ := strings.Cut(strings.TrimLeft(msg, "\n"), "\n\n")
	info.Subject = strings.Join(strings.Fields(para), " ")
	return info, nil
}

// parseSignatureTime reads the "<seconds> <+hhmm>" ending "Name <email>
// 1700000000 +0100".
func parseSignatureTime(sig string) (time.Time, error) {
	f := strings.Fields(sig[strings.LastIndexByte(sig, '>')+1:])
	if len(f) != 2 || len(f[1]) != 5 {
		return time.Time{}, fmt.Errorf("malformed commit signature %q", sig)
	}
	sec, err1 := strconv.ParseInt(f[0], 10, 64)
	hh, err2 := strconv.Atoi(f[1][1:3])
	mm, err3 := strconv.Atoi(f[1][3:5])
	if err := errors.Join(err1, err2, err3); err != nil {
		return time.Time{}, fmt.Errorf("malformed commit date %q: %w", sig, err)
	}
	off := hh*3600 + mm*60
	if f[1][0] == '-' {
		off = -off
	}
	return time.Unix(sec, 0).In(time.FixedZone(f[1], off)), nil
}

// export writes the tree into dest with `git archive`.
func (m *mirror) export(ctx context.Context, tree, dest string, mtime time.Time) error {
	if err := prepareDest(dest); err != nil {
		return err
	}
	cmd, err := m.r.command(ctx, m.dir, "archive", "--format=tar", tree)
	if err != nil {
		return err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("running git archive: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("running git archive: %w", err)
	}
	xerr := extractTar(out, dest, mtime)
	if xerr != nil {
		_ = cmd.Process.Kill()
	}
	werr := cmd.Wait()
	if xerr != nil {
		return xerr
	}
	if werr != nil {
		return m.r.failure(ctx, werr, stderr.String())
	}
	return nil
}

// prepareDest creates dest, which must be absent or an empty directory.
func prepareDest(dest string) error {
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return fmt.Errorf("creating destination: %w", err)
	}
	entries, err := os.ReadDir(dest)
	if err != nil {
		return fmt.Errorf("reading destination: %w", err)
	}
	if len(entries) > 0 {
		return errors.New("destination is not empty")
	}
	return nil
}
