package k8stest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestClusterRunsAPodAndCleansUp starts the cluster, runs a pod to
// completion and reads its log, then stops it and checks that the host is
// as before: sysctls, the kubelet's paths, cgroups, the bridge, network
// namespaces, processes.
func TestClusterRunsAPodAndCleansUp(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute) // includes waiting for another package's cluster
	defer cancel()
	bins, err := Binaries(ctx)
	if errors.Is(err, ErrUnavailable) && !Required() {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	before := saveHost()
	began := time.Now()
	c, err := Start(ctx, bins)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("cluster up (node Ready) in %v", time.Since(began).Round(10*time.Millisecond))
	stopped := false
	defer func() {
		if !stopped {
			_ = c.Stop()
		}
	}()
	if err := c.Namespace(ctx, "smoke"); err != nil {
		t.Fatal(err)
	}
	began = time.Now()
	runPod(ctx, t, c)
	t.Logf("first pod ran to completion in %v", time.Since(began).Round(10*time.Millisecond))
	dir := c.Dir
	stopped = true
	if err := c.Stop(); err != nil {
		t.Fatalf("stopping: %v", err)
	}
	checkClean(t, before, dir)
}

func runPod(ctx context.Context, t *testing.T, c *Cluster) {
	t.Helper()
	no := false
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "hello"}, Spec: corev1.PodSpec{
		NodeName: NodeName, RestartPolicy: corev1.RestartPolicyNever, AutomountServiceAccountToken: &no,
		Containers: []corev1.Container{{Name: "c", Image: pauseImage, ImagePullPolicy: corev1.PullNever,
			Command: []string{"/bin/sh", "-c", "echo hello from a pod"}}}}}
	pods := c.Client.CoreV1().Pods("smoke")
	if _, err := pods.Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err := waitFor(ctx, "the pod to succeed", func() error {
		p, err := pods.Get(ctx, "hello", metav1.GetOptions{})
		if err == nil && p.Status.Phase != corev1.PodSucceeded {
			return errors.New(string(p.Status.Phase))
		}
		return err
	})
	if err != nil {
		c.Logs(os.Stderr)
		t.Fatal(err)
	}
	log, err := pods.GetLogs("hello", &corev1.PodLogOptions{}).DoRaw(ctx)
	if err != nil || strings.TrimSpace(string(log)) != "hello from a pod" {
		t.Fatalf("log %q, %v", log, err)
	}
}

func checkClean(t *testing.T, before hostState, dir string) {
	t.Helper()
	after := saveHost()
	for k, v := range before.sysctls {
		if after.sysctls[k] != v {
			t.Errorf("sysctl %s: %s after, %s before", k, after.sysctls[k], v)
		}
	}
	for _, p := range before.absent {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s was left behind", p)
		}
	}
	for key, lines := range after.iptables {
		for _, l := range lines {
			if strings.Contains(l, "KUBE-") && !slices.Contains(before.iptables[key], l) {
				t.Errorf("%s: the kubelet's %q was left", key, l)
			}
		}
	}
	if m, _ := filepath.Glob("/sys/fs/cgroup/*/kubepods"); len(m) > 0 {
		t.Errorf("cgroups left: %v", m)
	}
	if _, err := os.Stat("/sys/class/net/" + bridgeName); err == nil {
		t.Errorf("bridge %s left", bridgeName)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Errorf("%s left", dir)
	}
	if mounts := mountsUnder(dir); len(mounts) > 0 {
		t.Errorf("mounts left: %v", mounts)
	}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		cmd, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if strings.Contains(string(cmd), dir) {
			t.Errorf("process %s left: %s", e.Name(), strings.ReplaceAll(string(cmd), "\x00", " "))
		}
	}
}
