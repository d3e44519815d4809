package publish

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kilnbuild/kiln/internal/oci"
)

// Names PublishFiles writes next to the published files.
const (
	SumsFile  = "SHA256SUMS"
	IndexFile = "index.json"
)

// StaticRequest says which artifact PublishFiles publishes and where.
type StaticRequest struct {
	// Artifact is pinned by digest: host/repo@sha256:….
	Artifact string
	Remote   oci.Remote
	// Dir is the static site's root; the files go to Dir/Subdir.
	Dir string
	// Subdir is a relative, slash-separated path that stays inside Dir
	// ("" for Dir itself).
	Subdir string
	// RequireRepodata makes a missing createrepo_c an error when the
	// artifact holds RPMs; otherwise it is noted in the result.
	RequireRepodata bool
	// Createrepo is the command run for RPMs (default "createrepo_c").
	Createrepo string
	// TempDir holds the pulled files while publishing (default os.TempDir()).
	TempDir string
	// Now is the time written in index.json (default time.Now()).
	Now time.Time
}

// Index is index.json: what was published, from which artifact, when.
type Index struct {
	Source    string      `json:"source"`
	Digest    string      `json:"digest"`
	Published time.Time   `json:"published"`
	Files     []FileEntry `json:"files"`
}

// FileEntry is one published file.
type FileEntry struct {
	Path   string `json:"path"` // slash-separated, relative to Dir/Subdir
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// StaticResult says what PublishFiles did.
type StaticResult struct {
	// Dir is Dir/Subdir.
	Dir   string `json:"dir"`
	Index Index  `json:"index"`
	// Written and Skipped are paths (as in Index.Files, plus symlinks);
	// Skipped ones were already there with the same content.
	Written []string `json:"written"`
	Skipped []string `json:"skipped"`
	// Repodata says createrepo_c updated Dir/Subdir/repodata.
	Repodata bool `json:"repodata"`
	// Notes are things the caller should know, e.g. repodata not generated.
	Notes []string `json:"notes,omitempty"`
}

// PublishFiles pulls the artifact and writes its files under Dir/Subdir,
// never outside it, rewriting only files whose content changed. It then
// writes SHA256SUMS and index.json describing the artifact's files, and,
// when there are RPMs, runs `createrepo_c --update` to make the directory a
// yum repository.
func PublishFiles(ctx context.Context, req StaticRequest) (StaticResult, error) {
	res, err := publishFiles(ctx, req)
	if err != nil {
		return StaticResult{}, fmt.Errorf("publishing %s to %s: %w", req.Artifact, filepath.Join(req.Dir, req.Subdir), err)
	}
	return res, nil
}

func publishFiles(ctx context.Context, req StaticRequest) (StaticResult, error) {
	if err := req.validate(); err != nil {
		return StaticResult{}, err
	}
	stage, err := os.MkdirTemp(req.TempDir, "kiln-publish-")
	if err != nil {
		return StaticResult{}, err
	}
	defer os.RemoveAll(stage)
	desc, err := oci.Pull(ctx, req.Artifact, stage, req.Remote)
	if err != nil {
		return StaticResult{}, err
	}
	root, err := openDest(req.Dir, req.Subdir)
	if err != nil {
		return StaticResult{}, err
	}
	defer root.Close()
	unlock, err := lockDest(root)
	if err != nil {
		return StaticResult{}, err
	}
	defer unlock()
	if err := removeLeftovers(root); err != nil {
		return StaticResult{}, err
	}
	res := StaticResult{Dir: filepath.Join(req.Dir, filepath.FromSlash(req.Subdir)),
		Index: Index{Source: req.Artifact, Digest: desc.Digest, Published: req.now(), Files: []FileEntry{}}}
	if err := syncTree(stage, root, &res); err != nil {
		return StaticResult{}, err
	}
	if err := writeIndex(root, res.Index); err != nil {
		return StaticResult{}, err
	}
	if err := req.repodata(ctx, &res); err != nil {
		return StaticResult{}, err
	}
	return res, nil
}

func (req StaticRequest) validate() error {
	if _, err := parsePinned(req.Artifact, req.Remote); err != nil {
		return err
	}
	if req.Dir == "" {
		return fmt.Errorf("a destination directory is required")
	}
	if req.Subdir != "" && (strings.Contains(req.Subdir, `\`) || !filepath.IsLocal(filepath.FromSlash(req.Subdir))) {
		return fmt.Errorf("subdirectory %q must be a relative path inside the destination, without '..'", req.Subdir)
	}
	return nil
}

func (req StaticRequest) now() time.Time {
	if req.Now.IsZero() {
		return time.Now().UTC().Truncate(time.Second)
	}
	return req.Now.UTC()
}

// openDest creates Dir/Subdir, without following links out of Dir, and
// opens it as the root every write goes through.
func openDest(dir, sub string) (*os.Root, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	top, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer top.Close()
	if sub == "" {
		return top.OpenRoot(".")
	}
	if err := top.MkdirAll(filepath.FromSlash(sub), 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", sub, err)
	}
	return top.OpenRoot(filepath.FromSlash(sub))
}
