package buildroot

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/kilnbuild/kiln/internal/sandbox"
)

// The eviction tests compose with a fake sandbox: "installing" copies each
// package file into the root filesystem, so a buildroot's size is its
// package's. Copying the base is real (cp).

// fakeRunner installs package files; with hold set, each install first
// says so on started and waits for hold.
type fakeRunner struct {
	started chan struct{}
	hold    chan struct{}
}

func (f *fakeRunner) Name() string { return "fake" }

func (f *fakeRunner) Run(ctx context.Context, s sandbox.Step) (sandbox.Result, error) {
	if f.hold != nil {
		f.started <- struct{}{}
		<-f.hold
	}
	var src string
	for _, m := range s.Mounts {
		if m.Target == PackagesDir {
			src = m.Source
		}
	}
	for _, arg := range s.Command {
		if file, ok := strings.CutPrefix(arg, PackagesDir+"/"); ok {
			data, err := os.ReadFile(filepath.Join(src, file))
			if err != nil {
				return sandbox.Result{}, err
			}
			if err := os.WriteFile(filepath.Join(s.RootFS, file), data, 0o644); err != nil {
				return sandbox.Result{}, err
			}
		}
	}
	return sandbox.Result{}, nil
}

var copyFormat = Format{Name: "copy", Install: func(stages [][]string) []string { return append([]string{"install"}, slices.Concat(stages...)...) }}

// fixture makes buildroots named by a letter, each of one 256 KiB
// package, on one small base.
type fixture struct {
	t    *testing.T
	base string
	pkgs map[string]Package
}

func newFixture(t *testing.T, names ...string) *fixture {
	base := t.TempDir()
	if err := os.WriteFile(filepath.Join(base, "os-release"), []byte("base\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, base: base, pkgs: map[string]Package{}}
	for _, n := range names {
		f.pkgs[n] = localPackage(t, n, strings.Repeat(n, 256<<10))
	}
	return f
}

func (f *fixture) request(name string, log *syncBuffer) Request {
	return Request{Namespace: "team", Base: "sha256:base", BaseRoot: f.base, Packages: []Package{f.pkgs[name]}, Format: copyFormat, Log: log}
}

func (f *fixture) compose(c *Cache, name string) Result {
	f.t.Helper()
	log := &syncBuffer{}
	res, err := c.Compose(f.t.Context(), f.request(name, log))
	if err != nil {
		f.t.Fatalf("composing %s: %v\n%s", name, err, log.String())
	}
	return res
}

// use composes (or reuses) name and releases it at once.
func (f *fixture) use(c *Cache, name string) Result {
	f.t.Helper()
	res := f.compose(c, name)
	res.Release()
	return res
}

func (f *fixture) dir(c *Cache, name string) string {
	return filepath.Join(c.Dir, "team", strings.Replace(Key("sha256:base", []Package{f.pkgs[name]}), ":", "-", 1))
}

// kept are the names whose buildroots are on disk.
func (f *fixture) kept(c *Cache) []string {
	var out []string
	for n := range f.pkgs {
		if _, err := os.Stat(f.dir(c, n)); err == nil {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// entrySize is the disk one buildroot of the fixture takes.
func entrySize(t *testing.T) int64 {
	f := newFixture(t, "z")
	c := &Cache{Dir: t.TempDir(), Runner: &fakeRunner{}}
	size, err := diskUsage(f.use(c, "z").RootFS)
	if err != nil || size < 256<<10 {
		t.Fatalf("a buildroot takes %d bytes (%v)", size, err)
	}
	return size
}

// room is a bound that holds n buildroots of the fixture, not n+1.
func room(t *testing.T, n int64) int64 {
	size := entrySize(t)
	return n*size + size/2
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestEvictsLeastRecentlyUsed(t *testing.T) {
	f := newFixture(t, "a", "b", "c")
	c := &Cache{Dir: t.TempDir(), Runner: &fakeRunner{}, MaxBytes: room(t, 2)}
	f.use(c, "a")
	f.use(c, "b")
	if again := f.use(c, "a"); !again.Cached {
		t.Fatal("a was not reused")
	}
	log := &syncBuffer{}
	res, err := c.Compose(t.Context(), f.request("c", log))
	if err != nil {
		t.Fatal(err)
	}
	res.Release()
	if got := f.kept(c); !slices.Equal(got, []string{"a", "c"}) {
		t.Fatalf("kept %v, want a (reused after b) and c\n%s", got, log.String())
	}
	if want := "buildroot cache: evicted team/" + filepath.Base(f.dir(c, "b")); !strings.Contains(log.String(), want) {
		t.Fatalf("the build log does not say %q:\n%s", want, log.String())
	}
	assertNoDotEntries(t, c)
}

func TestInUseNeverEvicted(t *testing.T) {
	f := newFixture(t, "a", "b")
	c := &Cache{Dir: t.TempDir(), Runner: &fakeRunner{}, MaxBytes: room(t, 1)}
	first := f.compose(c, "a")
	first.Release()
	first.Release() // a second release of one Result changes nothing
	a := f.compose(c, "a")
	log := &syncBuffer{}
	b, err := c.Compose(t.Context(), f.request("b", log))
	if err != nil {
		t.Fatal(err)
	}
	if got := f.kept(c); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("kept %v while both are in use", got)
	}
	if !strings.Contains(log.String(), "over its bound") || !strings.Contains(log.String(), "in use") {
		t.Fatalf("the log does not say the cache is over its bound:\n%s", log.String())
	}
	a.Release()
	if got := f.kept(c); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("kept %v after a was released, want b (in use) alone", got)
	}
	b.Release()
	if got := f.kept(c); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("kept %v after b was released, want b (it fits)", got)
	}
	if du := cacheUsage(t, c); du > c.MaxBytes {
		t.Fatalf("the cache takes %d bytes, over its bound %d", du, c.MaxBytes)
	}
}

// A composition in progress is not an entry: evictions meanwhile leave it
// alone, and it completes.
func TestComposingNeverEvicted(t *testing.T) {
	f := newFixture(t, "a", "b")
	c := &Cache{Dir: t.TempDir(), Runner: &fakeRunner{}, MaxBytes: 1}
	held := f.compose(c, "a")
	c.Runner = &fakeRunner{started: make(chan struct{}), hold: make(chan struct{})}
	done := make(chan Result)
	go func() { done <- f.compose(c, "b") }()
	<-c.Runner.(*fakeRunner).started
	held.Release() // evicts a, over the bound of 1 byte
	close(c.Runner.(*fakeRunner).hold)
	res := <-done
	defer res.Release()
	if _, err := os.Stat(filepath.Join(res.RootFS, f.pkgs["b"].File)); err != nil {
		t.Fatalf("the buildroot composed during an eviction is incomplete: %v", err)
	}
	if got := f.kept(c); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("kept %v, want b (in use)", got)
	}
}

// A new Cache on the same directory (a restart) keeps the order of uses
// from the directories' mtimes and measures the entries only when it
// must evict.
func TestRestartKeepsOrderAndMeasuresLazily(t *testing.T) {
	f := newFixture(t, "a", "b", "c", "d")
	dir := t.TempDir()
	before := &Cache{Dir: dir, Runner: &fakeRunner{}}
	// Compose them in the order of their directories' names and use them
	// again in the reverse order, so that the least recently used is
	// neither the first composed nor the first by name.
	old := []string{"a", "b", "c"}
	slices.SortFunc(old, func(x, y string) int { return strings.Compare(f.dir(before, x), f.dir(before, y)) })
	for _, n := range old {
		f.use(before, n)
	}
	slices.Reverse(old)
	for _, n := range old {
		f.use(before, n)
	}
	after := &Cache{Dir: dir, Runner: &fakeRunner{}, MaxBytes: room(t, 3)}
	if again := f.use(after, old[2]); !again.Cached {
		t.Fatal("the restarted cache did not reuse a buildroot")
	}
	after.mu.Lock()
	unmeasured := 0
	for _, e := range after.idx.entries {
		if e.size < 0 {
			unmeasured++
		}
	}
	after.mu.Unlock()
	if unmeasured != 3 {
		t.Fatalf("%d of the 3 buildroots found at the restart are unmeasured before an eviction", unmeasured)
	}
	f.use(after, "d")
	want := slices.Sorted(slices.Values([]string{old[1], old[2], "d"}))
	if got := f.kept(after); !slices.Equal(got, want) {
		t.Fatalf("kept %v, want %v: %s was least recently used before the restart", got, want, old[0])
	}
}

func TestCrashLeftoversRemoved(t *testing.T) {
	f := newFixture(t, "a", "b")
	c := &Cache{Dir: t.TempDir(), Runner: &fakeRunner{}}
	f.use(c, "a")
	for _, d := range []string{".compose-123/root/usr", ".evict-sha256-0123-xyz/usr", ".compose-9"} {
		if err := os.MkdirAll(filepath.Join(c.Dir, "team", d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	restarted := &Cache{Dir: c.Dir, Runner: &fakeRunner{}}
	if !f.use(restarted, "a").Cached {
		t.Fatal("the buildroot beside the leftovers was not reused")
	}
	assertNoDotEntries(t, restarted)
}

// An eviction interrupted while removing (a crash, a failing disk) never
// leaves part of a buildroot under its key: it is renamed away first, and
// the next start removes the rest.
func TestInterruptedEvictionLeavesNoHalfBuildroot(t *testing.T) {
	f := newFixture(t, "a", "b")
	c := &Cache{Dir: t.TempDir(), Runner: &fakeRunner{}, MaxBytes: room(t, 1)}
	c.removeAll = func(dir string) error {
		if err := os.Remove(filepath.Join(dir, f.pkgs["a"].File)); err != nil {
			return err
		}
		return errors.New("interrupted")
	}
	f.use(c, "a")
	f.use(c, "b")
	if res := f.use(c, "a"); res.Cached {
		t.Fatal("the half-removed buildroot was reused")
	}
	if err := checkInstalled(f.use(&Cache{Dir: c.Dir, Runner: &fakeRunner{}}, "a"), f.pkgs["a"]); err != nil {
		t.Fatal(err)
	}
	assertNoDotEntries(t, c)
}

func TestPurgeNamespace(t *testing.T) {
	f := newFixture(t, "a")
	c := &Cache{Dir: t.TempDir(), Runner: &fakeRunner{}, MaxBytes: room(t, 1)}
	f.use(c, "a")
	if err := c.PurgeNamespace("team"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(c.Dir, "team")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the namespace's buildroots are still there: %v", err)
	}
	c.mu.Lock()
	left := len(c.idx.entries)
	c.mu.Unlock()
	if left != 0 {
		t.Fatalf("the cache still counts %d buildroots of the deleted namespace", left)
	}
	if f.use(c, "a").Cached {
		t.Fatal("a deleted buildroot was reused")
	}
}

// Builds composing, using and releasing buildroots at once: while a build
// holds one it is complete; at the end the cache is within its bound.
func TestConcurrentComposeReleaseEvict(t *testing.T) {
	names := []string{"a", "b", "c", "d", "e"}
	f := newFixture(t, names...)
	c := &Cache{Dir: t.TempDir(), Runner: &fakeRunner{}, MaxBytes: room(t, 2)}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			rnd := rand.New(rand.NewPCG(uint64(g), 1))
			for range 8 {
				n := names[rnd.IntN(len(names))]
				res, err := c.Compose(context.Background(), f.request(n, &syncBuffer{}))
				if err != nil {
					t.Error(err)
					return
				}
				if err := checkInstalled(res, f.pkgs[n]); err != nil {
					t.Error(err)
				}
				res.Release()
			}
		})
	}
	wg.Wait()
	if du := cacheUsage(t, c); du > c.MaxBytes {
		t.Fatalf("the cache takes %d bytes after every release, over its bound %d", du, c.MaxBytes)
	}
	assertNoDotEntries(t, c)
}

func checkInstalled(res Result, p Package) error {
	data, err := os.ReadFile(filepath.Join(res.RootFS, p.File))
	if err != nil {
		return fmt.Errorf("a buildroot in use is gone: %w", err)
	}
	if sum(string(data)) != p.SHA256 {
		return fmt.Errorf("a buildroot in use has another %s", p.File)
	}
	return nil
}

// cacheUsage is the disk the cache's entries take.
func cacheUsage(t *testing.T, c *Cache) int64 {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(c.Dir, "team"))
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, e := range entries {
		du, err := diskUsage(filepath.Join(c.Dir, "team", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		total += du
	}
	return total
}

func assertNoDotEntries(t *testing.T, c *Cache) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(c.Dir, "team"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("left %s in the cache", e.Name())
		}
	}
}
