package kubeexec

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// A container over its memory limit is reported as such whether or not the
// runtime's OOM event won its race with the exit event.
func TestEndReason(t *testing.T) {
	for _, c := range []struct {
		name   string
		term   corev1.ContainerStateTerminated
		memory int64
		want   string
	}{
		{"runtime says OOMKilled", corev1.ContainerStateTerminated{ExitCode: 137, Reason: "OOMKilled"}, 32 << 20, "memory-limit"},
		{"OOM event lost", corev1.ContainerStateTerminated{ExitCode: 137, Reason: "Error"}, 32 << 20, "memory-limit"},
		{"OOM event lost, no reason", corev1.ContainerStateTerminated{ExitCode: 137}, 32 << 20, "memory-limit"},
		{"SIGKILL without a memory limit", corev1.ContainerStateTerminated{ExitCode: 137, Reason: "Error"}, 0, ""},
		{"plain failure", corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error"}, 32 << 20, ""},
		{"success", corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed"}, 32 << 20, ""},
	} {
		if got := endReason(&c.term, c.memory); got != c.want {
			t.Errorf("%s: endReason = %q, want %q", c.name, got, c.want)
		}
	}
}
