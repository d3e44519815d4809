package k8stest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Stop deletes every pod, stops the cluster's processes (and the shims and
// containers they leave), unmounts and removes what the cluster made, in
// its directory and outside it, and restores the host's sysctls.
func (c *Cluster) Stop() error {
	if c == nil || c.lock == nil {
		return nil
	}
	c.deletePods()
	var errs []error
	for _, name := range []string{"kubelet", "kube-apiserver", "containerd", "etcd"} {
		c.stopProc(name)
		if name == "kubelet" {
			killCgroupProcs("kubepods")
		}
	}
	killMatching(c.Dir)
	killCgroupProcs("kubepods")
	c.removeNetns()
	unmountUnder(c.Dir)
	errs = append(errs, removeCgroups("kubepods"))
	deleteLink(bridgeName)
	errs = append(errs, c.host.restore())
	if err := removeAllUnmounting(c.Dir); err != nil {
		errs = append(errs, fmt.Errorf("removing the cluster's directory: %w", err))
	}
	c.lock.Close()
	c.lock = nil
	return errors.Join(errs...)
}

// deletePods deletes every pod and waits (a while) for the kubelet to stop
// their containers.
func (c *Cluster) deletePods() {
	if c.Client == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pods := c.Client.CoreV1().Pods(metav1.NamespaceAll)
	list, err := pods.List(ctx, metav1.ListOptions{})
	if err != nil {
		return
	}
	grace := int64(1)
	for _, p := range list.Items {
		_ = c.Client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &grace})
	}
	_ = waitFor(ctx, "every pod to be deleted", func() error {
		l, err := pods.List(ctx, metav1.ListOptions{})
		if err == nil && len(l.Items) > 0 {
			return fmt.Errorf("%d pods left", len(l.Items))
		}
		return err
	})
}

// stopProc stops the named process: SIGTERM, then SIGKILL after 10 s.
func (c *Cluster) stopProc(name string) {
	for _, cmd := range c.procs {
		if filepath.Base(cmd.Path) != name || cmd.Process == nil {
			continue
		}
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	}
}

// killCgroupProcs kills every process left in a cgroup hierarchy named
// name, in every controller.
func killCgroupProcs(name string) {
	roots, _ := filepath.Glob("/sys/fs/cgroup/*/" + name)
	for _, r := range roots {
		_ = filepath.WalkDir(r, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || d.Name() != "cgroup.procs" {
				return nil
			}
			for _, pid := range readPids(p) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			return nil
		})
	}
}

func readPids(path string) []int {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var pids []int
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if pid, err := strconv.Atoi(strings.TrimSpace(sc.Text())); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

const netnsDir = "/var/run/netns"

func listNetns() map[string]bool {
	ents, _ := os.ReadDir(netnsDir)
	out := map[string]bool{}
	for _, e := range ents {
		out[e.Name()] = true
	}
	return out
}

// removeNetns removes the pod network namespaces containerd made (cni-*)
// that were not there before the cluster started.
func (c *Cluster) removeNetns() {
	ents, _ := os.ReadDir(netnsDir)
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), "cni-") || c.netns[e.Name()] {
			continue
		}
		p := filepath.Join(netnsDir, e.Name())
		_ = syscall.Unmount(p, syscall.MNT_DETACH)
		_ = os.Remove(p)
	}
}

// logTails returns the end of every process's log, to explain a failed
// start.
func (c *Cluster) logTails() error {
	var b strings.Builder
	for _, cmd := range c.procs {
		name := filepath.Base(cmd.Path)
		data, _ := os.ReadFile(c.path("logs/" + name + ".log"))
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		fmt.Fprintf(&b, "--- %s (last lines)\n%s\n", name, strings.Join(lines[max(0, len(lines)-15):], "\n"))
	}
	if b.Len() == 0 {
		return nil
	}
	return errors.New(b.String())
}

// Logs copies the cluster's process logs to w (for a failing test).
func (c *Cluster) Logs(w io.Writer) {
	names := []string{}
	for _, cmd := range c.procs {
		names = append(names, filepath.Base(cmd.Path))
	}
	slices.Sort(names)
	for _, n := range names {
		data, _ := os.ReadFile(c.path("logs/" + n + ".log"))
		fmt.Fprintf(w, "--- %s\n%s\n", n, data)
	}
}

// removeAllUnmounting removes dir; a directory still busy as a mount point
// (a mount made while the cluster's processes died) is unmounted and the
// removal tried again, a bounded number of times.
func removeAllUnmounting(dir string) error {
	var err error
	for range 5 {
		if err = os.RemoveAll(dir); err == nil || !errors.Is(err, syscall.EBUSY) {
			return err
		}
		unmountUnder(dir)
		time.Sleep(200 * time.Millisecond)
	}
	return err
}
