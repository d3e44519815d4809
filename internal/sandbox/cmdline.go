package sandbox

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// commandLine is bwrap's arguments for one step and the step's staged
// bind sources (stage.go), which bind and topLevel name by their staged
// paths.
type commandLine struct {
	args   []string
	staged *staged
}

func (c *commandLine) add(args ...string) { c.args = append(c.args, args...) }

// bind binds src, a staged source or a path under one, at dst.
func (c *commandLine) bind(src, dst string, writable bool) {
	flag := "--ro-bind"
	if writable {
		flag = "--bind"
	}
	c.add(flag, c.staged.path(src), dst)
}

// topLevel exposes src at dst read-only: a symlink is recreated, anything
// else is bound.
func (c *commandLine) topLevel(src, dst string) error {
	fi, err := os.Lstat(src)
	if err != nil {
		return fmt.Errorf("inspecting %s: %w", src, err)
	}
	if fi.Mode()&os.ModeSymlink == 0 {
		c.bind(src, dst, false)
		return nil
	}
	target, err := os.Readlink(src)
	if err != nil {
		return fmt.Errorf("reading link %s: %w", src, err)
	}
	c.add("--symlink", target, dst)
	return nil
}

// close removes the staged sources.
func (c *commandLine) close() { c.staged.remove() }

// kernelDirs are the step's own kernel filesystems: no mount may go into
// them, and no host directory inside them may be mounted.
var kernelDirs = []string{"/proc", "/sys", "/dev"}

// kernelFSMagic are filesystems that expose the host's kernel, not files.
var kernelFSMagic = map[int64]string{
	unix.PROC_SUPER_MAGIC: "proc", unix.SYSFS_MAGIC: "sysfs", unix.CGROUP_SUPER_MAGIC: "cgroup",
	unix.CGROUP2_SUPER_MAGIC: "cgroup2", unix.DEBUGFS_MAGIC: "debugfs", unix.SECURITYFS_MAGIC: "securityfs",
	unix.TRACEFS_MAGIC: "tracefs", unix.BPF_FS_MAGIC: "bpf", unix.DEVPTS_SUPER_MAGIC: "devpts",
	unix.EFIVARFS_MAGIC: "efivarfs", unix.PSTOREFS_MAGIC: "pstore", unix.BINFMTFS_MAGIC: "binfmt_misc",
	unix.NSFS_MAGIC: "nsfs", 0x62656570: "configfs", 0x65735543: "fusectl",
}

// checkKernelFS refuses a source in the host's /proc, /sys or /dev or on
// a kernel filesystem mounted elsewhere.
func checkKernelFS(src string) error {
	for _, d := range kernelDirs {
		if within(src, d) {
			return fmt.Errorf("the host's %s is never mounted into a step", d)
		}
	}
	var st unix.Statfs_t
	if err := unix.Statfs(src, &st); err != nil {
		return err
	}
	if name, ok := kernelFSMagic[int64(st.Type)]; ok {
		return fmt.Errorf("it is on a %s filesystem, which exposes the host's kernel", name)
	}
	return nil
}
