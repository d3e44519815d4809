package pipeline

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"

	"github.com/kilnbuild/kiln/internal/sandbox"
)

// bubblewrap returns the real sandbox, or skips without bwrap (fails with
// KILN_REQUIRE_SANDBOX or CI set).
func bubblewrap(t *testing.T) *sandbox.Bubblewrap {
	t.Helper()
	if _, err := exec.LookPath("bwrap"); err != nil {
		if os.Getenv("KILN_REQUIRE_SANDBOX") != "" || os.Getenv("CI") != "" {
			t.Fatal("bwrap is not installed; scripts/test-deps.sh installs it")
		}
		t.Skip("bwrap is not installed")
	}
	r, err := sandbox.NewBubblewrap(sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// TestRunLeasesOneHostUserPerRun: with the real sandbox, as root, the
// steps of one run (prefetch, parallel tasks, finally) run through one
// lease, whose host user is not root, owns the workspace (uid 1000 inside)
// and can use the other steps' files; two runs at once run as two users
// (the sandbox's tests check from the host that a lease's steps run as its
// user); afterwards the workspace belongs to the server again.
func TestRunLeasesOneHostUserPerRun(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("dedicated host users need root")
	}
	r := bubblewrap(t)
	doc := header + `
  workspaces: [{name: source}]
  tasks:
    - name: a
      taskSpec:
        metadata: {annotations: {kiln.dev/prefetch: fetch}}
        workspaces: [{name: source}]
        results: [{name: uid}]
        steps:
          - {name: fetch, image: host, script: "echo fetched > /kiln/prefetch/f"}
          - name: build
            image: host
            script: |
              test "$(stat -c %u $(workspaces.source.path))" = 1000
              cat /kiln/prefetch/f > $(workspaces.source.path)/from-a
    - name: b
      taskSpec:
        workspaces: [{name: source}]
        steps:
          - {image: host, script: "mkdir $(workspaces.source.path)/from-b"}
  finally:
    - name: c
      taskSpec:
        workspaces: [{name: source}]
        steps: [{image: host, script: "cat $(workspaces.source.path)/from-a && echo more >> $(workspaces.source.path)/from-a && rmdir $(workspaces.source.path)/from-b"}]
`
	p, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := Compile(p, nil, Context{PipelineRunName: "r"})
	if err != nil {
		t.Fatal(err)
	}
	dirs := []string{t.TempDir(), t.TempDir()}
	runners := []*recordingLeaser{{Bubblewrap: r}, {Bubblewrap: r}}
	results := make([]*RunResult, 2)
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			results[i], err = Run(context.Background(), plan, RunOptions{Runner: runners[i], WorkspaceDir: dirs[i]})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	uids := map[int]bool{}
	for i, res := range results {
		if res == nil || res.Err() != nil {
			t.Fatalf("run %d: %+v", i, res)
		}
		got := runners[i].uids
		if len(got) != 4 || len(slices.Compact(slices.Clone(got))) != 1 || got[0] == 0 {
			t.Fatalf("run %d: its 4 steps ran as host users %v, want one, not root", i, got)
		}
		uids[got[0]] = true
		assertServerOwns(t, dirs[i])
	}
	if len(uids) != 2 {
		t.Fatalf("two concurrent runs ran as the same host user %v", uids)
	}
}

// recordingLeaser records the host user of every step its leases run.
type recordingLeaser struct {
	*sandbox.Bubblewrap
	mu   sync.Mutex
	uids []int
}

func (r *recordingLeaser) Lease() (sandbox.Lease, error) {
	l, err := r.Bubblewrap.Lease()
	return &recordingLease{Lease: l, r: r}, err
}

type recordingLease struct {
	sandbox.Lease
	r *recordingLeaser
}

func (l *recordingLease) Run(ctx context.Context, step sandbox.Step) (sandbox.Result, error) {
	uid, _ := l.HostUser()
	l.r.mu.Lock()
	l.r.uids = append(l.r.uids, uid)
	l.r.mu.Unlock()
	return l.Lease.Run(ctx, step)
}

// assertServerOwns checks that nothing under dir belongs to another user.
func assertServerOwns(t *testing.T, dir string) {
	t.Helper()
	err := filepath.Walk(dir, func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if uid := fi.Sys().(*syscall.Stat_t).Uid; int(uid) != os.Geteuid() {
			t.Errorf("after the run, %s belongs to uid %s", path, strconv.Itoa(int(uid)))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
