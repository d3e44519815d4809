package pipeline

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/kilnbuild/kiln/internal/sandbox"
	"github.com/kilnbuild/kiln/internal/tenantfs"
)

const secretContent = "tasks: SECRET-KEY-MATERIAL-5d2a"

// secretFile is a file outside every tree the tests read, whose content
// parses as YAML (so a parse error would quote it).
func secretFile(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "keys", "secret.key")
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(secretContent), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// repoWithLinks makes a directory with files and links (name -> target).
func repoWithLinks(t *testing.T, files, links map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, target := range links {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// linkTargets are the ways a link reaches file.
func linkTargets(t *testing.T, file string) map[string]string {
	t.Helper()
	cwd, _ := os.Getwd()
	rel, _ := filepath.Rel(cwd, file)
	return map[string]string{"abs": file, "dotdot": strings.Repeat("../", 30) + file[1:],
		"proc-cwd": "/proc/self/cwd/" + rel, "proc-root": "/proc/self/root" + file}
}

func checkRefused(t *testing.T, what string, err error, says string) {
	t.Helper()
	if err == nil || !errors.Is(err, tenantfs.ErrEscapes) || !strings.Contains(err.Error(), says) {
		t.Errorf("%s: %v, want an error saying %q", what, err, says)
	}
	if err != nil && strings.Contains(err.Error(), "SECRET-KEY-MATERIAL") {
		t.Errorf("%s: the error quotes the secret: %v", what, err)
	}
}

func TestLoadFromRepoRefusesLinksLeaving(t *testing.T) {
	t.Parallel()
	secret := secretFile(t)
	keys := filepath.Dir(secret)
	if err := os.WriteFile(filepath.Join(keys, "pipeline.yaml"), []byte(secretContent), 0o600); err != nil {
		t.Fatal(err)
	}
	for way, target := range linkTargets(t, secret) {
		dir := repoWithLinks(t, nil, map[string]string{KilnPipelineFile: target})
		_, _, err := LoadFromRepo(dir)
		checkRefused(t, "kiln "+way, err, ".kiln/pipeline.yaml is a symbolic link leaving the repository")
		dir = repoWithLinks(t, map[string]string{".tekton/ok.yaml": "kind: Task"}, map[string]string{".tekton/build.yaml": target})
		_, _, err = LoadFromRepo(dir)
		checkRefused(t, "tekton "+way, err, ".tekton/build.yaml is a symbolic link leaving the repository")
	}
	cases := map[string]map[string]string{
		".kiln is a symbolic link":   {".kiln": keys},
		".tekton is a symbolic link": {".tekton": keys},
		"chain leaving":              {KilnPipelineFile: "../a", "a": "sub/b", "sub/b": "../c", "c": secret},
	}
	for says, links := range cases {
		_, _, err := LoadFromRepo(repoWithLinks(t, nil, links))
		checkRefused(t, says, err, "is a symbolic link leaving the repository")
	}
}

func TestLoadFromRepoFollowsLinksInside(t *testing.T) {
	t.Parallel()
	doc := "apiVersion: tekton.dev/v1\nkind: Task\nmetadata: {name: t}\nspec: {steps: [{image: host, script: 'true'}]}\n"
	dir := repoWithLinks(t, map[string]string{"ci/pipeline.yaml": doc}, map[string]string{KilnPipelineFile: "../ci/pipeline.yaml"})
	p, src, err := LoadFromRepo(dir)
	if err != nil || p.Name != "t" || src.Kind != "kiln" {
		t.Fatalf("%v %+v %v", p, src, err)
	}
}

func TestLoadFromRepoSpecialFiles(t *testing.T) {
	t.Parallel()
	dir := repoWithLinks(t, map[string]string{".tekton/big.yaml": strings.Repeat("#", MaxPipelineFile+1)}, nil)
	if _, _, err := LoadFromRepo(dir); !errors.Is(err, tenantfs.ErrTooLarge) || !strings.Contains(err.Error(), ".tekton/big.yaml is larger than the limit") {
		t.Errorf("big: %v", err)
	}
	dir = t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, ".kiln"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, KilnPipelineFile), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadFromRepo(dir); !errors.Is(err, tenantfs.ErrNotRegular) {
		t.Errorf("fifo: %v", err)
	}
}

func TestLoadRepoFileStaysInside(t *testing.T) {
	t.Parallel()
	secret := secretFile(t)
	dir := repoWithLinks(t, nil, map[string]string{"p.yaml": secret, "keys": filepath.Dir(secret)})
	checkRefused(t, "link", second(LoadRepoFile(dir, "p.yaml")), "p.yaml is a symbolic link leaving the repository")
	checkRefused(t, "linked directory", second(LoadRepoFile(dir, "keys/secret.key")), "keys is a symbolic link leaving the repository")
	rel, _ := filepath.Rel(dir, secret)
	for _, name := range []string{rel, secret, "sub/../../x.yaml"} {
		checkRefused(t, name, second(LoadRepoFile(dir, name)), "is not a relative path inside the repository")
	}
}

func second[T any](_ T, err error) error { return err }

// withBothRunners runs test with the fake runner (nil) and with the real
// sandbox, in parallel subtests.
func withBothRunners(t *testing.T, test func(*testing.T, sandbox.Runner)) {
	t.Run("FakeRunner", func(t *testing.T) {
		t.Parallel()
		test(t, nil)
	})
	t.Run("Bubblewrap", func(t *testing.T) {
		t.Parallel()
		test(t, bubblewrap(t))
	})
}

// TestRunResultLinks: a step cannot make the server read a host file as a
// result, nor hang it on a FIFO; a link inside the results directory is
// followed. With the fake runner and with the real sandbox.
func TestRunResultLinks(t *testing.T) {
	t.Parallel()
	withBothRunners(t, testRunResultLinks)
}

func testRunResultLinks(t *testing.T, runner sandbox.Runner) {
	secret := secretFile(t)
	targets := linkTargets(t, secret)
	b := run(t, context.Background(), header+`
  tasks:
    - name: abs
      taskSpec: {results: [{name: r}], steps: [{image: host, script: ln -s `+targets["abs"]+` $(results.r.path)}]}
    - name: dotdot
      taskSpec: {results: [{name: r}], steps: [{image: host, script: ln -s `+targets["dotdot"]+` $(results.r.path)}]}
    - name: proc
      taskSpec: {results: [{name: r}], steps: [{image: host, script: ln -s `+targets["proc-root"]+` $(results.r.path)}]}
    - name: fifo
      taskSpec: {results: [{name: r}], steps: [{image: host, script: mkfifo $(results.r.path)}]}
    - name: dir
      taskSpec: {results: [{name: r}], steps: [{image: host, script: mkdir $(results.r.path)}]}
    - name: inside
      taskSpec:
        results: [{name: r}, {name: s}]
        steps: [{image: host, script: "echo fine > $(results.s.path); ln -s s $(results.r.path)"}]
`, RunOptions{Concurrency: 6, Runner: runner})
	b.wantStatus(t, map[string]string{"abs": StatusFailed, "dotdot": StatusFailed, "proc": StatusFailed,
		"fifo": StatusFailed, "dir": StatusFailed, "inside": StatusSucceeded})
	for _, task := range []string{"abs", "dotdot", "proc"} {
		r := b.task(t, task).Reason
		if !strings.Contains(r, "result r: r is a symbolic link leaving the task's results directory") || !strings.Contains(r, "$(results.r.path)") {
			t.Errorf("%s: %q", task, r)
		}
	}
	if r := b.task(t, "fifo").Reason; !strings.Contains(r, "result r: r is a FIFO, not a regular file") {
		t.Errorf("fifo: %q", r)
	}
	if r := b.task(t, "dir").Reason; !strings.Contains(r, "result r: r is a directory") {
		t.Errorf("dir: %q", r)
	}
	if got := b.task(t, "inside").Results; len(got) != 2 || got[0].Value.StringVal != "fine" {
		t.Errorf("inside: %+v", got)
	}
	if strings.Contains(b.log.String(), "SECRET-KEY-MATERIAL") {
		t.Errorf("the log holds the secret:\n%s", b.log)
	}
}

// TestRunMountAndOutputLinks: a sub-path a step turned into a link is
// never mounted into a later step, and a missing sub-path is created for
// the steps (with the real sandbox, as root: given to the run's host
// user, who writes in it).
func TestRunMountAndOutputLinks(t *testing.T) {
	t.Parallel()
	withBothRunners(t, testRunMountLinks)
}

func testRunMountLinks(t *testing.T, runner sandbox.Runner) {
	hostDir := filepath.Dir(secretFile(t))
	b := run(t, context.Background(), header+`
  workspaces: [{name: output}]
  tasks:
    - name: plant
      workspaces: [{name: output}]
      taskSpec: {workspaces: [{name: output}], steps: [{image: host, script: "ln -s `+hostDir+` $(workspaces.output.path)/m; mkdir $(workspaces.output.path)/real; ln -s real $(workspaces.output.path)/inside"}]}
    - name: leak
      runAfter: [created]
      workspaces: [{name: w, workspace: output, subPath: m}]
      taskSpec: {workspaces: [{name: w}], steps: [{image: host, script: "echo planted > $(workspaces.w.path)/written"}]}
    - name: created
      runAfter: [plant]
      workspaces: [{name: w, workspace: output, subPath: real/new/dir}]
      taskSpec: {workspaces: [{name: w}], steps: [{image: host, script: "echo ok > $(workspaces.w.path)/f"}]}
`, RunOptions{Runner: runner})
	b.wantStatus(t, map[string]string{"plant": StatusSucceeded, "leak": StatusFailed, "created": StatusSucceeded})
	if r := b.task(t, "leak").Steps[0].Reason; !strings.Contains(r, "output/m is a symbolic link") {
		t.Errorf("leak: %q", r)
	}
	if _, err := os.Stat(filepath.Join(hostDir, "written")); err == nil {
		t.Error("a step wrote through a planted link")
	}
	if got := mustRead(t, filepath.Join(b.dir, "output", "real", "new", "dir", "f")); got != "ok\n" {
		t.Errorf("created sub-path: %q", got)
	}
	if runner != nil && os.Geteuid() == 0 {
		assertServerOwns(t, b.dir)
	}
	// A link inside the workspace that stays inside it is refused too: a
	// mount source is never reached through a link. (Its own run: once a
	// task fails, tasks not yet started are not run, so two failing tasks
	// in one run would race.)
	in := run(t, context.Background(), header+`
  workspaces: [{name: output}]
  tasks:
    - name: plant
      workspaces: [{name: output}]
      taskSpec: {workspaces: [{name: output}], steps: [{image: host, script: "mkdir $(workspaces.output.path)/real; ln -s real $(workspaces.output.path)/inside"}]}
    - name: inside
      runAfter: [plant]
      workspaces: [{name: w, workspace: output, subPath: inside/x}]
      taskSpec: {workspaces: [{name: w}], steps: [{image: host, script: "true"}]}
`, RunOptions{Runner: runner})
	in.wantStatus(t, map[string]string{"plant": StatusSucceeded, "inside": StatusFailed})
	if r := in.task(t, "inside").Steps[0].Reason; !strings.Contains(r, "output/inside is a symbolic link") {
		t.Errorf("inside: %q", r)
	}
}

func TestRunOutputBelowLink(t *testing.T) {
	t.Parallel()
	hostDir := filepath.Dir(secretFile(t))
	b := run(t, context.Background(), header+`
  workspaces: [{name: output}]
  tasks:
    - name: plant
      workspaces: [{name: output}]
      taskSpec: {workspaces: [{name: output}], steps: [{image: host, script: "ln -s `+filepath.Dir(hostDir)+` $(workspaces.output.path)/dist"}]}
    - name: image
      runAfter: [plant]
      taskRef: {name: oci-image}
      workspaces: [{name: output, workspace: output, subPath: dist/keys}]
`, RunOptions{})
	if b.res.Status != StatusFailed || !strings.Contains(b.res.Reason, "output image: output/dist is a symbolic link") ||
		len(b.res.Outputs) != 1 || b.res.Outputs[0].Kind != OutputDirectory {
		t.Fatalf("%s %q %+v", b.res.Status, b.res.Reason, b.res.Outputs)
	}
}

// TestCopyTreeNeverWritesThroughLinks: the source's links are copied as
// links, and a link an earlier run left in the workspace is replaced,
// not written through.
func TestCopyTreeNeverWritesThroughLinks(t *testing.T) {
	t.Parallel()
	secret := secretFile(t)
	src := repoWithLinks(t, map[string]string{"a.txt": "source a", "d/b.txt": "source b"}, map[string]string{"key": secret, "keys": filepath.Dir(secret)})
	dst := repoWithLinks(t, nil, map[string]string{"a.txt": secret, "d": filepath.Dir(secret)})
	if err := copyTree(src, dst, filepath.Join(src, "none")); err != nil {
		t.Fatal(err)
	}
	if got := mustRead(t, secret); got != secretContent {
		t.Fatalf("the copy wrote through a link: %q", got)
	}
	if got := mustRead(t, filepath.Join(dst, "a.txt")); got != "source a" {
		t.Errorf("a.txt: %q", got)
	}
	if got := mustRead(t, filepath.Join(dst, "d", "b.txt")); got != "source b" {
		t.Errorf("d/b.txt: %q", got)
	}
	for _, l := range []string{"key", "keys"} {
		if target, err := os.Readlink(filepath.Join(dst, l)); err != nil || !strings.HasPrefix(target, filepath.Dir(secret)) {
			t.Errorf("%s: %q %v, want the link copied", l, target, err)
		}
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(secret), "b.txt")); err == nil {
		t.Error("the copy wrote into a linked directory")
	}
}

// TestRecordFilesSkipsLinks: prefetch records never read through links.
func TestRecordFilesSkipsLinks(t *testing.T) {
	t.Parallel()
	secret := secretFile(t)
	dir := repoWithLinks(t, map[string]string{"dl.txt": "x"}, map[string]string{"key": secret, "keys": filepath.Dir(secret)})
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	got := recordFiles(dir)
	if len(got) != 1 || got[0].Path != "dl.txt" {
		t.Errorf("recorded %+v", got)
	}
}
