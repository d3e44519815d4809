package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Host directories a build needs from the host root, bound read-only (or
// recreated as symlinks on merged-/usr systems). Everything else of the host
// (/root, /home, /var, /srv, /tmp, the server's data dir) stays invisible.
var hostRootDirs = []string{"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}

// Host /etc entries a build needs, bound read-only when present: never all of
// /etc/ssl or /etc/pki, whose private/ holds keys. passwd, group and hosts are
// generated instead (see writeEtc); resolv.conf is bound only for steps with
// network.
var hostEtc = []string{
	"alternatives", "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "nsswitch.conf",
	"ssl/certs", "ssl/openssl.cnf", "ca-certificates.conf", "pki/tls/certs",
	"pki/ca-trust/extracted", "localtime", "timezone", "os-release", "debian_version",
	"protocols", "services", "mime.types",
}

const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// hostRootArgs composes the host-root filesystem from hostRootDirs and
// hostEtc; it is computed once per runner. The generated /etc files are
// bound per step (etcArgs).
func hostRootArgs() ([]string, error) {
	var args []string
	for _, d := range hostRootDirs {
		a, err := topLevelArgs(d, d)
		if err != nil {
			return nil, err
		}
		args = append(args, a...)
	}
	for _, name := range hostEtc {
		p := filepath.Join("/etc", name)
		if _, err := os.Lstat(p); err == nil {
			args = append(args, "--ro-bind", p, p)
		}
	}
	return args, nil
}

// etcArgs binds the generated passwd, group and hosts, and for network
// steps resolv.conf, into /etc.
func (b *Bubblewrap) etcArgs(c *commandLine, network bool) {
	names := []string{"passwd", "group", "hosts"}
	if network {
		names = append(names, "resolv.conf")
	}
	for _, name := range names {
		c.bind(filepath.Join(b.etcDir, name), "/etc/"+name, false)
	}
}

// imageRootArgs binds each top-level entry of an unpacked image read-only,
// so that /dev, /proc, /tmp and mount points are made on bwrap's own tmpfs
// root and the image directory is never written to. The image's /sys is
// left out like its /dev and /proc: nothing of a sysfs, the host's or an
// image's, appears in a step. Top-level directories that hold a mount
// target (e.g. /workspace for /workspace/output) are not taken from the
// image: bwrap creates them on its tmpfs root, since it cannot make mount
// points inside a read-only bind. Network steps get the image's /etc
// entry by entry, with the generated resolv.conf (and hosts, when the
// image has none) among them.
func (b *Bubblewrap) imageRootArgs(c *commandLine, rootfs string, step Step) error {
	reserved := map[string]bool{}
	for _, m := range step.Mounts {
		top, _, _ := strings.Cut(strings.TrimPrefix(filepath.Clean(m.Target), "/"), "/")
		reserved[top] = true
	}
	entries, err := os.ReadDir(rootfs)
	if err != nil {
		return fmt.Errorf("reading root filesystem %s: %w", rootfs, err)
	}
	etc := false
	for _, e := range entries {
		switch {
		case e.Name() == "sys" && e.IsDir() && !reserved["sys"]:
			// An empty directory, never a sysfs: package managers
			// (dpkg installing base-files) expect the directory.
			c.add("--dir", "/sys")
			continue
		case skipImageEntry[e.Name()] || reserved[e.Name()]:
			continue
		case e.Name() == "etc" && step.Network && e.IsDir():
			etc = true
			continue
		}
		if err := c.topLevel(filepath.Join(rootfs, e.Name()), "/"+e.Name()); err != nil {
			return err
		}
	}
	if !step.Network || reserved["etc"] {
		return nil
	}
	return b.networkEtc(c, rootfs, etc)
}

// skipImageEntry are the top-level entries of an image the sandbox makes
// itself (/dev, /proc, /tmp) or leaves empty (/sys).
var skipImageEntry = map[string]bool{"dev": true, "proc": true, "sys": true, "tmp": true}

// networkEtc composes /etc of a network step in an image: the image's
// entries but resolv.conf, and the generated resolv.conf, plus the
// generated hosts when the image has none.
func (b *Bubblewrap) networkEtc(c *commandLine, rootfs string, hasEtc bool) error {
	c.add("--dir", "/etc")
	hasHosts := false
	if hasEtc {
		entries, err := os.ReadDir(filepath.Join(rootfs, "etc"))
		if err != nil {
			return fmt.Errorf("reading the image's /etc: %w", err)
		}
		for _, e := range entries {
			if e.Name() == "resolv.conf" {
				continue
			}
			hasHosts = hasHosts || e.Name() == "hosts"
			if err := c.topLevel(filepath.Join(rootfs, "etc", e.Name()), "/etc/"+e.Name()); err != nil {
				return err
			}
		}
	}
	c.bind(filepath.Join(b.etcDir, "resolv.conf"), "/etc/resolv.conf", false)
	if !hasHosts {
		c.bind(filepath.Join(b.etcDir, "hosts"), "/etc/hosts", false)
	}
	return nil
}

// topLevelArgs exposes src at dst read-only by path: a symlink is
// recreated, anything else is bound. A missing src yields nothing. For
// system directories every user can read; see commandLine.topLevel.
func topLevelArgs(src, dst string) ([]string, error) {
	fi, err := os.Lstat(src)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("inspecting %s: %w", src, err)
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		target, err := os.Readlink(src)
		if err != nil {
			return nil, fmt.Errorf("reading link %s: %w", src, err)
		}
		return []string{"--symlink", target, dst}, nil
	}
	return []string{"--ro-bind", src, dst}, nil
}

// slirpDNS is where slirp4netns answers DNS queries, forwarding them to
// the host's resolvers.
const slirpDNS = "10.0.2.3"

// writeEtc generates minimal passwd, group and hosts files naming the
// sandbox user, so that tools that look the user up work without exposing
// the host's accounts, and the resolv.conf of network steps. The
// directory can be searched (not listed) by the sandbox users.
func writeEtc(dir string, uid, gid int) error {
	if err := os.Mkdir(dir, 0o711); err != nil {
		return fmt.Errorf("creating sandbox /etc files: %w", err)
	}
	files := map[string]string{
		"passwd": fmt.Sprintf("root:x:0:0:root:/root:/bin/sh\nbuild:x:%d:%d:Kiln build:/tmp:/bin/sh\n"+
			"nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n", uid, gid),
		"group":       fmt.Sprintf("root:x:0:\nbuild:x:%d:\nnogroup:x:65534:\n", gid),
		"hosts":       "127.0.0.1\tlocalhost kiln\n::1\tlocalhost ip6-localhost ip6-loopback\n",
		"resolv.conf": "nameserver " + slirpDNS + "\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return fmt.Errorf("writing sandbox /etc/%s: %w", name, err)
		}
	}
	return wrapErr("making sandbox /etc files reachable", os.Chmod(dir, 0o711))
}

// commandLine builds bwrap's command line for one step. Descriptor 3 is
// the JSON status pipe, descriptor 4 the pipe bwrap blocks on before
// running the step, descriptor 5 (with a filter) the seccomp program, and
// without a stage, descriptors from mountFD on are the mounts' sources.
func (b *Bubblewrap) commandLine(step Step, lim Limits, user hostUser) (*commandLine, error) {
	env, err := envArgs(step.Env)
	if err != nil {
		return nil, err
	}
	workDir := step.WorkDir
	if workDir == "" {
		workDir = "/"
	}
	if !filepath.IsAbs(workDir) {
		return nil, fmt.Errorf("working directory %q is not absolute", workDir)
	}
	c, err := b.stageSources(&step, user)
	if err != nil {
		return nil, err
	}
	c.add(b.namespaceArgs()...)
	c.add(env...)
	if err := b.filesystemArgs(c, step, lim); err != nil {
		c.close()
		return nil, err
	}
	c.add("--chdir", workDir, "--json-status-fd", "3", "--block-fd", "4")
	if b.seccomp.program != nil {
		c.add("--seccomp", strconv.Itoa(seccompFD))
	}
	c.add("--")
	c.add(step.Command...)
	return c, nil
}

// stageSources checks the step's mounts and resolves its root filesystem
// (in place in step), then opens, checks and stages every source: the
// generated /etc files, the root filesystem and the mounts' sources.
func (b *Bubblewrap) stageSources(step *Step, user hostUser) (*commandLine, error) {
	srcs := []source{{path: b.etcDir}}
	if step.RootFS != "" {
		rootfs, err := filepath.EvalSymlinks(step.RootFS)
		if err != nil {
			return nil, fmt.Errorf("root filesystem: %w", err)
		}
		step.RootFS = rootfs
		srcs = append(srcs, source{path: rootfs})
	}
	c := &commandLine{firstMount: len(srcs)}
	mounts := make([]Mount, len(step.Mounts))
	for i, m := range step.Mounts {
		src, err := b.mountSource(m, user)
		if err != nil {
			return nil, err
		}
		mounts[i] = Mount{Source: src.path, Target: filepath.Clean(m.Target), Writable: m.Writable, Within: src.within}
		srcs = append(srcs, src)
	}
	step.Mounts = mounts
	st, err := b.stage.bind(srcs)
	if err != nil {
		return nil, err
	}
	c.staged = st
	return c, nil
}

// namespaceArgs: every step gets its own namespaces, the network one
// included: a Network step's is connected to the outside by slirp4netns
// (network.go).
func (b *Bubblewrap) namespaceArgs() []string {
	return []string{
		"--unshare-user", "--uid", strconv.Itoa(b.opts.UID), "--gid", strconv.Itoa(b.opts.GID),
		"--disable-userns",
		"--unshare-pid", "--as-pid-1", "--unshare-net",
		"--unshare-ipc", "--unshare-uts", "--hostname", "kiln", "--unshare-cgroup",
		"--die-with-parent", "--new-session", "--cap-drop", "ALL",
	}
}

// envArgs clears the environment and sets only env, plus PATH and HOME
// defaults when env lacks them.
func envArgs(env []string) ([]string, error) {
	args := []string{"--clearenv"}
	set := map[string]bool{}
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("environment entry %q is not KEY=VALUE", kv)
		}
		set[k] = true
		args = append(args, "--setenv", k, v)
	}
	if !set["PATH"] {
		args = append(args, "--setenv", "PATH", defaultPath)
	}
	if !set["HOME"] {
		args = append(args, "--setenv", "HOME", "/tmp")
	}
	return args, nil
}

// filesystemArgs composes the step's root: the host's or the image's
// read-only, fresh /dev, a read-only /proc, a fresh /tmp, the step's
// mounts (checked and resolved by stageSources), and finally the root
// itself remounted read-only.
//
// /proc is the step's own (its PID namespace) but procfs also holds
// host-wide settings under /proc/sys and files such as /proc/sysrq-trigger;
// bwrap covers some of them read-only only when it finds them writable at
// setup, so the whole mount is remounted read-only. Writing through
// /proc/self/fd/N (/dev/stdout) is unaffected: that opens the target file.
func (b *Bubblewrap) filesystemArgs(c *commandLine, step Step, lim Limits) error {
	if step.RootFS == "" {
		c.add(b.hostRoot...)
		b.etcArgs(c, step.Network)
	} else if err := b.imageRootArgs(c, step.RootFS, step); err != nil {
		return err
	}
	c.add("--dev", "/dev", "--proc", "/proc", "--remount-ro", "/proc",
		"--perms", "01777", "--size", strconv.FormatInt(lim.Memory, 10), "--tmpfs", "/tmp")
	for i, m := range step.Mounts {
		c.mount(c.firstMount+i, m.Target, m.Writable)
	}
	c.add("--remount-ro", "/")
	return nil
}

// checkMount opens and checks a mount's source as the step's will be
// (with Within: below it, no link on the way) and returns the path of
// what it really is, which Run without a lease gives to the step's user.
func (b *Bubblewrap) checkMount(m Mount) (string, error) {
	src, err := b.mountSource(m, hostUser{uid: os.Geteuid(), gid: os.Getegid()})
	if err != nil {
		return "", err
	}
	f, err := src.openChecked()
	if err != nil {
		return "", err
	}
	defer f.Close()
	return fdPath(f)
}

// checkProtected refuses protected paths that the host root would expose.
func checkProtected(protected []string) error {
	visible := append([]string{}, hostRootDirs...)
	for _, name := range hostEtc {
		visible = append(visible, filepath.Join("/etc", name))
	}
	for _, p := range protected {
		for _, v := range visible {
			if within(p, v) {
				return fmt.Errorf("protected path %s lies in %s, which every host-root step "+
					"can read: move it (e.g. under /var/lib)", p, v)
			}
		}
	}
	return nil
}

// within reports whether path is dir or lies inside it.
func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}
