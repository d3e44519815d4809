package k8stest

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// sysctls the kubelet (vm.overcommit_memory, kernel.panic,
// kernel.panic_on_oops, kernel.keys.*) changes on the host; they are saved
// before the cluster starts and restored when it stops. (The pod network's
// bridge is made here with its address, so the CNI bridge plugin is not a
// gateway and leaves net.ipv4.ip_forward alone.)
var hostSysctls = []string{
	"vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops",
	"kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes",
}

// hostPaths the kubelet, containerd and the CNI plugins use outside the
// cluster's directory whatever they are told; those that did not exist
// before the cluster started are removed when it stops.
var hostPaths = []string{
	"/var/lib/kubelet", "/var/log/containers", "/var/log/pods", "/run/containerd",
	"/var/lib/cni", "/etc/kubernetes", "/var/lib/containerd", "/opt/cni",
}

// hostState is what the cluster changes on the host, saved to be restored.
type hostState struct {
	sysctls  map[string]string
	absent   []string
	iptables map[string][]string
}

func saveHost() hostState {
	s := hostState{sysctls: map[string]string{}, iptables: saveIptables()}
	for _, k := range hostSysctls {
		if b, err := os.ReadFile("/proc/sys/" + k); err == nil {
			s.sysctls[k] = strings.TrimSpace(string(b))
		}
	}
	for _, p := range hostPaths {
		if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
			s.absent = append(s.absent, p)
		}
	}
	return s
}

// restore puts the sysctls back and removes the paths that were absent.
func (s hostState) restore() error {
	errs := []error{restoreIptables(s.iptables)}
	for k, v := range s.sysctls {
		cur, _ := os.ReadFile("/proc/sys/" + k)
		if strings.TrimSpace(string(cur)) == v {
			continue
		}
		if err := os.WriteFile("/proc/sys/"+k, []byte(v), 0o644); err != nil {
			errs = append(errs, fmt.Errorf("restoring sysctl %s=%s: %w", k, v, err))
		}
	}
	for _, p := range s.absent {
		unmountUnder(p)
		if err := os.RemoveAll(p); err != nil {
			errs = append(errs, fmt.Errorf("removing %s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}

// unmountUnder lazily unmounts every mount at or below dir, deepest first,
// until none is left: mounts can be stacked on one path (the kubelet binds
// its root directory onto itself), and a process being killed may still
// add one.
//
// The mount table read is the calling thread's (/proc/thread-self), with
// the goroutine locked to that thread for the reads and the unmounts: a
// process's threads can be in different mount namespaces (the sandbox's
// staging thread has its own, a copy taken before the cluster mounted
// anything), and /proc/self shows the main thread's, which may be that one.
func unmountUnder(dir string) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for range 50 {
		mounts := mountsUnder(dir)
		if len(mounts) == 0 {
			return
		}
		for _, m := range mounts {
			_ = syscall.Unmount(m, syscall.MNT_DETACH)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func mountsUnder(dir string) []string {
	f, err := os.Open("/proc/thread-self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMount(fields[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

func unescapeMount(s string) string {
	r := strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`)
	return r.Replace(s)
}

// killMatching sends SIGKILL to every process whose command line mentions
// marker (the cluster's directory): containerd's shims and what they run
// outlive containerd.
func killMatching(marker string) {
	ents, _ := os.ReadDir("/proc")
	self := os.Getpid()
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		cmd, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(cmd), marker) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// removeCgroups removes the kubelet's kubepods hierarchy from every cgroup
// controller, children first (a cgroup with tasks stays, named in the
// error).
func removeCgroups(name string) error {
	roots, _ := filepath.Glob("/sys/fs/cgroup/*/" + name)
	if m, err := filepath.Glob("/sys/fs/cgroup/" + name); err == nil {
		roots = append(roots, m...)
	}
	var errs []error
	for _, r := range roots {
		var dirs []string
		_ = filepath.WalkDir(r, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		slices.Reverse(dirs)
		for _, d := range dirs {
			if err := os.Remove(d); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, fmt.Errorf("removing cgroup %s: %w", d, err))
			}
		}
	}
	return errors.Join(errs...)
}

// deleteLink removes a network interface the CNI bridge plugin made.
func deleteLink(name string) {
	if _, err := os.Stat("/sys/class/net/" + name); err == nil {
		_ = exec.Command("ip", "link", "del", name).Run()
	}
}

// iptablesTables are the tables the kubelet adds its canary chains to.
var iptablesTables = []string{"filter", "nat", "mangle"}

// saveIptables lists the rules and chains of each table (iptables -S),
// for iptables and ip6tables when installed.
func saveIptables() map[string][]string {
	out := map[string][]string{}
	for _, tool := range []string{"iptables", "ip6tables"} {
		if _, err := exec.LookPath(tool); err != nil {
			continue
		}
		for _, table := range iptablesTables {
			b, err := exec.Command(tool, "-w", "-t", table, "-S").Output()
			if err == nil {
				out[tool+" "+table] = strings.Split(strings.TrimSpace(string(b)), "\n")
			}
		}
	}
	return out
}

// restoreIptables removes the kubelet's rules, then its chains (KUBE-*),
// that were added since before was saved; others' rules are left alone.
func restoreIptables(before map[string][]string) error {
	var errs []error
	for key, lines := range saveIptables() {
		tool, table, _ := strings.Cut(key, " ")
		var chains []string
		for _, l := range lines {
			if slices.Contains(before[key], l) || !strings.Contains(l, "KUBE-") {
				continue
			}
			switch {
			case strings.HasPrefix(l, "-A "):
				args := append([]string{"-w", "-t", table, "-D"}, splitRule(strings.TrimPrefix(l, "-A "))...)
				if out, err := exec.Command(tool, args...).CombinedOutput(); err != nil {
					errs = append(errs, fmt.Errorf("%s %v: %v: %s", tool, args, err, out))
				}
			case strings.HasPrefix(l, "-N "):
				chains = append(chains, strings.TrimPrefix(l, "-N "))
			}
		}
		for _, c := range chains {
			_ = exec.Command(tool, "-w", "-t", table, "-F", c).Run()
			if out, err := exec.Command(tool, "-w", "-t", table, "-X", c).CombinedOutput(); err != nil {
				errs = append(errs, fmt.Errorf("%s -t %s -X %s: %v: %s", tool, table, c, err, out))
			}
		}
	}
	return errors.Join(errs...)
}

// splitRule splits an iptables -S line into arguments: words, with
// double-quoted strings (comments) kept whole.
func splitRule(line string) []string {
	var out []string
	var cur strings.Builder
	quoted, started := false, false
	for i := 0; i < len(line); i++ {
		ch := line[i]
		switch {
		case ch == '\\' && quoted && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
		case ch == '"':
			quoted, started = !quoted, true
		case ch == ' ' && !quoted:
			if started {
				out = append(out, cur.String())
				cur.Reset()
				started = false
			}
		default:
			cur.WriteByte(ch)
			started = true
		}
	}
	if started {
		out = append(out, cur.String())
	}
	return out
}
