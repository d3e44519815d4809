package sandbox

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// cgroupV1 makes per-step cgroups in the v1 memory and pids hierarchies,
// under parent directories found (and created) once per runner.
type cgroupV1 struct {
	memory, pids string // parent directories
}

var cgroupSeq atomic.Uint64

// newCgroupV1 finds the memory and pids v1 hierarchies and creates the
// parent cgroup in each: by default "kiln" under this process's own cgroup,
// so that limits placed on the server also bound its steps.
func newCgroupV1(parent string) (*cgroupV1, error) {
	own, err := readOwnCgroups("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	mounts, err := readCgroupMounts("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	cg := &cgroupV1{}
	for _, c := range []struct {
		name string
		dir  *string
	}{{"memory", &cg.memory}, {"pids", &cg.pids}} {
		if *c.dir, err = parentDir(c.name, own, mounts, parent); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(*c.dir, 0o755); err != nil {
			return nil, fmt.Errorf("creating cgroup %s: %w", *c.dir, err)
		}
		removeStale(*c.dir)
	}
	return cg, nil
}

// cgroupMount is where a v1 hierarchy is mounted and which of its cgroups
// the mount shows at its mount point.
type cgroupMount struct{ root, point string }

func parentDir(controller string, own map[string]string, mounts map[string]cgroupMount, parent string) (string, error) {
	m, ok := mounts[controller]
	if !ok {
		return "", fmt.Errorf("no cgroup v1 %s hierarchy is mounted", controller)
	}
	if parent == "" {
		path, ok := own[controller]
		if !ok {
			return "", fmt.Errorf("this process is in no %s cgroup", controller)
		}
		parent = filepath.Join(path, "kiln")
	}
	rel, err := filepath.Rel(m.root, filepath.Join("/", parent))
	if err != nil || strings.HasPrefix(rel, "..") {
		return "", fmt.Errorf("cgroup %s is outside the %s mount at %s", parent, controller, m.point)
	}
	return filepath.Join(m.point, rel), nil
}

// readOwnCgroups parses /proc/self/cgroup into controller -> cgroup path.
func readOwnCgroups(file string) (map[string]string, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("reading own cgroups: %w", err)
	}
	defer f.Close()
	return parseOwnCgroups(f)
}

func parseOwnCgroups(r io.Reader) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 || parts[1] == "" {
			continue // the v2 line "0::/path" names no v1 controller
		}
		for _, c := range strings.Split(parts[1], ",") {
			out[c] = parts[2]
		}
	}
	return out, sc.Err()
}

// readCgroupMounts parses /proc/self/mountinfo into controller -> mount of
// its v1 hierarchy.
func readCgroupMounts(file string) (map[string]cgroupMount, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("reading mounts: %w", err)
	}
	defer f.Close()
	return parseCgroupMounts(f)
}

func parseCgroupMounts(r io.Reader) (map[string]cgroupMount, error) {
	out := map[string]cgroupMount{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 5 || len(g) < 3 || g[0] != "cgroup" {
			continue
		}
		for _, opt := range strings.Split(g[2], ",") {
			out[opt] = cgroupMount{root: f[3], point: f[4]}
		}
	}
	return out, sc.Err()
}

// removeStale removes per-step cgroups left by servers that have died; the
// names start with the server's pid.
func removeStale(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		pid, _, ok := strings.Cut(e.Name(), "-")
		if n, err := strconv.Atoi(pid); ok && err == nil && !alive(n) {
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// stepCgroup is one step's memory and pids cgroup.
type stepCgroup struct{ memory, pids string }

// create makes the step's cgroups and writes its limits.
func (c *cgroupV1) create(lim Limits) (*stepCgroup, error) {
	name := fmt.Sprintf("%d-%d", os.Getpid(), cgroupSeq.Add(1))
	g := &stepCgroup{memory: filepath.Join(c.memory, name), pids: filepath.Join(c.pids, name)}
	for _, d := range []string{g.memory, g.pids} {
		if err := os.Mkdir(d, 0o755); err != nil {
			g.remove()
			return nil, fmt.Errorf("creating cgroup: %w", err)
		}
	}
	mem := strconv.FormatInt(lim.Memory, 10)
	err := errors.Join(
		writeFile(filepath.Join(g.memory, "memory.limit_in_bytes"), mem),
		writeFile(filepath.Join(g.pids, "pids.max"), strconv.Itoa(lim.Processes)))
	// With swap accounting, bound memory+swap too; absent without it.
	_ = writeFile(filepath.Join(g.memory, "memory.memsw.limit_in_bytes"), mem)
	if err != nil {
		g.remove()
		return nil, fmt.Errorf("writing cgroup limits: %w", err)
	}
	return g, nil
}

// add moves a process (with all its threads) into the step's cgroups.
func (g *stepCgroup) add(pid int) error {
	p := strconv.Itoa(pid)
	return errors.Join(
		writeFile(filepath.Join(g.memory, "cgroup.procs"), p),
		writeFile(filepath.Join(g.pids, "cgroup.procs"), p))
}

// oomKilled reports whether the kernel's OOM killer killed a process of the
// step for exceeding its memory limit.
func (g *stepCgroup) oomKilled() bool {
	b, err := os.ReadFile(filepath.Join(g.memory, "memory.oom_control"))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if n, ok := strings.CutPrefix(line, "oom_kill "); ok {
			return n != "0"
		}
	}
	return false
}

// remove kills whatever is left in the step's cgroups and removes them,
// retrying briefly while the kernel finishes tearing processes down.
func (g *stepCgroup) remove() error {
	var err error
	for _, d := range []string{g.pids, g.memory} {
		for i := 0; i < 100; i++ {
			killProcs(d)
			if err = os.Remove(d); err == nil || errors.Is(err, os.ErrNotExist) {
				err = nil
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err != nil {
			return fmt.Errorf("removing cgroup: %w", err)
		}
	}
	return nil
}

func killProcs(dir string) {
	b, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

func writeFile(path, value string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(value)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s to %s: %w", value, path, err)
	}
	return nil
}
