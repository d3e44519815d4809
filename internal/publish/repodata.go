package publish

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
)

// defaultCreaterepo is the command that writes yum repository metadata.
const defaultCreaterepo = "createrepo_c"

// repodata runs `createrepo_c --update` on the published directory when the
// artifact holds RPMs. Without createrepo_c that is an error only when the
// request requires repodata; otherwise it becomes a note.
func (req StaticRequest) repodata(ctx context.Context, res *StaticResult) error {
	if !slices.ContainsFunc(res.Index.Files, func(f FileEntry) bool { return strings.HasSuffix(f.Path, ".rpm") }) {
		return nil
	}
	name := cmp.Or(req.Createrepo, defaultCreaterepo)
	bin, err := exec.LookPath(name)
	if err != nil {
		msg := fmt.Sprintf("the artifact holds RPMs but %s is not on PATH, so no yum metadata (repodata/) was written; "+
			"install createrepo-c (Debian, Ubuntu) or createrepo_c (Fedora, RHEL)", name)
		if req.RequireRepodata {
			return errors.New(msg)
		}
		res.Notes = append(res.Notes, msg)
		return nil
	}
	out, err := exec.CommandContext(ctx, bin, "--update", res.Dir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("running %s --update %s: %w\n%s", bin, res.Dir, err, out)
	}
	res.Repodata = true
	return nil
}
