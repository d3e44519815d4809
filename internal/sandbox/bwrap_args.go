package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
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
// hostEtc; it is computed once per runner.
func hostRootArgs(etcDir string) ([]string, error) {
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
	for _, name := range []string{"passwd", "group", "hosts"} {
		args = append(args, "--ro-bind", filepath.Join(etcDir, name), "/etc/"+name)
	}
	return args, nil
}

// imageRootArgs binds each top-level entry of an unpacked image read-only,
// so that /dev, /proc, /tmp and mount points are made on bwrap's own tmpfs
// root and the image directory is never written to. Top-level directories
// that hold a mount target (e.g. /workspace for /workspace/output) are not
// taken from the image: bwrap creates them on its tmpfs root, since it
// cannot make mount points inside a read-only bind.
func imageRootArgs(rootfs string, mounts []Mount) ([]string, error) {
	reserved := map[string]bool{}
	for _, m := range mounts {
		top, _, _ := strings.Cut(strings.TrimPrefix(filepath.Clean(m.Target), "/"), "/")
		reserved[top] = true
	}
	entries, err := os.ReadDir(rootfs)
	if err != nil {
		return nil, fmt.Errorf("reading root filesystem %s: %w", rootfs, err)
	}
	var args []string
	for _, e := range entries {
		switch e.Name() {
		case "dev", "proc", "tmp":
			continue
		}
		if reserved[e.Name()] {
			continue
		}
		a, err := topLevelArgs(filepath.Join(rootfs, e.Name()), "/"+e.Name())
		if err != nil {
			return nil, err
		}
		args = append(args, a...)
	}
	return args, nil
}

// topLevelArgs exposes src at dst read-only: a symlink is recreated, anything
// else is bound. A missing src yields nothing.
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

// writeEtc generates minimal passwd, group and hosts files naming the
// sandbox user, so that tools that look the user up work without exposing
// the host's accounts.
func writeEtc(uid, gid int) (string, error) {
	dir, err := os.MkdirTemp("", "kiln-sandbox-etc-")
	if err != nil {
		return "", fmt.Errorf("creating sandbox /etc files: %w", err)
	}
	files := map[string]string{
		"passwd": fmt.Sprintf("root:x:0:0:root:/root:/bin/sh\nbuild:x:%d:%d:Kiln build:/tmp:/bin/sh\n"+
			"nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n", uid, gid),
		"group": fmt.Sprintf("root:x:0:\nbuild:x:%d:\nnogroup:x:65534:\n", gid),
		"hosts": "127.0.0.1\tlocalhost kiln\n::1\tlocalhost ip6-localhost ip6-loopback\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return "", fmt.Errorf("writing sandbox /etc/%s: %w", name, err)
		}
	}
	// Readable by a HostUID that bwrap may run as.
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", fmt.Errorf("making sandbox /etc files readable: %w", err)
	}
	return dir, nil
}

// args builds bwrap's command line for one step. Descriptor 3 is the JSON
// status pipe, descriptor 4 the pipe bwrap blocks on before running the step,
// descriptor 5 (with a filter) the seccomp program, descriptors from
// mountFD on the sources of Mounts with Within (returned, in order; the
// caller closes them).
func (b *Bubblewrap) args(step Step, lim Limits) ([]string, []*os.File, error) {
	args := b.namespaceArgs(step.Network)
	env, err := envArgs(step.Env)
	if err != nil {
		return nil, nil, err
	}
	args = append(args, env...)
	fs, files, err := b.filesystemArgs(step, lim)
	if err != nil {
		return nil, nil, err
	}
	args = append(args, fs...)
	workDir := step.WorkDir
	if workDir == "" {
		workDir = "/"
	}
	if !filepath.IsAbs(workDir) {
		closeAll(files...)
		return nil, nil, fmt.Errorf("working directory %q is not absolute", workDir)
	}
	args = append(args, "--chdir", workDir, "--json-status-fd", "3", "--block-fd", "4")
	if b.seccomp.program != nil {
		args = append(args, "--seccomp", strconv.Itoa(seccompFD))
	}
	args = append(args, "--")
	return append(args, step.Command...), files, nil
}

func (b *Bubblewrap) namespaceArgs(network bool) []string {
	args := []string{
		"--unshare-user", "--uid", strconv.Itoa(b.opts.UID), "--gid", strconv.Itoa(b.opts.GID),
		"--disable-userns",
		"--unshare-pid", "--as-pid-1",
		"--unshare-ipc", "--unshare-uts", "--hostname", "kiln", "--unshare-cgroup",
		"--die-with-parent", "--new-session", "--cap-drop", "ALL",
	}
	if !network {
		args = append(args, "--unshare-net")
	}
	return args
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
// read-only, fresh /dev, /proc and /tmp, the step's mounts, and finally the
// root itself remounted read-only.
func (b *Bubblewrap) filesystemArgs(step Step, lim Limits) ([]string, []*os.File, error) {
	var args []string
	if step.RootFS == "" {
		args = append(args, b.hostRoot...)
		if step.Network {
			args = append(args, "--ro-bind-try", "/etc/resolv.conf", "/etc/resolv.conf")
		}
	} else {
		root, err := imageRootArgs(step.RootFS, step.Mounts)
		if err != nil {
			return nil, nil, err
		}
		args = append(args, root...)
	}
	args = append(args, "--dev", "/dev", "--proc", "/proc",
		"--perms", "01777", "--size", strconv.FormatInt(lim.Memory, 10), "--tmpfs", "/tmp")
	mounts, files, err := b.mountArgs(step.Mounts)
	if err != nil {
		return nil, nil, err
	}
	args = append(args, mounts...)
	return append(args, "--remount-ro", "/"), files, nil
}

// mountFD is the first descriptor of mount sources bound by descriptor.
const mountFD = seccompFD + 1

// mountArgs binds every mount; those with Within are opened here and
// bound by descriptor (the files returned, in descriptor order).
func (b *Bubblewrap) mountArgs(mounts []Mount) ([]string, []*os.File, error) {
	var args []string
	var files []*os.File
	for _, m := range mounts {
		flag := "--ro-bind"
		if m.Writable {
			flag = "--bind"
		}
		if m.Within == "" {
			src, err := b.checkMount(m)
			if err != nil {
				closeAll(files...)
				return nil, nil, err
			}
			args = append(args, flag, src, filepath.Clean(m.Target))
			continue
		}
		f, err := b.openMount(m)
		if err != nil {
			closeAll(files...)
			return nil, nil, err
		}
		args = append(args, flag+"-fd", strconv.Itoa(mountFD+len(files)), filepath.Clean(m.Target))
		files = append(files, f)
	}
	return args, files, nil
}

// checkMount rejects relative paths, mounts over the root, and any source
// that is, contains or lies inside a protected path. It returns the source
// with symlinks resolved, which is what gets mounted.
func (b *Bubblewrap) checkMount(m Mount) (string, error) {
	if err := checkTarget(m); err != nil {
		return "", err
	}
	src, err := filepath.EvalSymlinks(m.Source)
	if err != nil {
		return "", fmt.Errorf("mount %s: %w", m.Source, err)
	}
	return src, b.checkProtectedSource(m, src)
}

func checkTarget(m Mount) error {
	if !filepath.IsAbs(m.Source) || !filepath.IsAbs(m.Target) {
		return fmt.Errorf("mount %s -> %s: paths must be absolute", m.Source, m.Target)
	}
	if filepath.Clean(m.Target) == "/" {
		return fmt.Errorf("mount %s -> /: cannot replace the root filesystem", m.Source)
	}
	return nil
}

func (b *Bubblewrap) checkProtectedSource(m Mount, src string) error {
	for _, p := range b.protected {
		if within(src, p) || within(p, src) {
			return fmt.Errorf("mount %s would expose protected path %s: mount a directory "+
				"outside the server's data directory", m.Source, p)
		}
	}
	return nil
}

// openMount opens the directory m.Source inside m.Within (never following
// a link out of it) and checks the directory it really is against the
// protected paths. bwrap binds the descriptor itself, so what is checked
// is what is mounted.
func (b *Bubblewrap) openMount(m Mount) (*os.File, error) {
	if err := checkTarget(m); err != nil {
		return nil, err
	}
	rel, err := filepath.Rel(m.Within, m.Source)
	if err != nil || !filepath.IsLocal(rel) && rel != "." {
		return nil, fmt.Errorf("mount %s: not a path inside %s", m.Source, m.Within)
	}
	root, err := os.OpenRoot(m.Within)
	if err != nil {
		return nil, fmt.Errorf("mount %s: %w", m.Source, err)
	}
	defer root.Close()
	f, err := root.OpenFile(rel, os.O_RDONLY|syscall.O_DIRECTORY, 0)
	if err != nil {
		return nil, fmt.Errorf("mount %s: not a directory inside %s: %w", m.Source, m.Within, err)
	}
	real, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", f.Fd()))
	if err == nil {
		err = b.checkProtectedSource(m, real)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
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
