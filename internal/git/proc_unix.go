//go:build unix

package git

import (
	"os/exec"
	"syscall"
)

// setProcessGroup puts git in its own process group and makes cancellation
// kill the whole group, so helpers git started (ssh, git-remote-https) do
// not outlive a timeout.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
