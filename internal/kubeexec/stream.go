package kubeexec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/remotecommand"

	"github.com/kilnbuild/kiln/internal/sandbox"
)

// pollEvery is how often a Pod's status is read while waiting on it.
const pollEvery = 200 * time.Millisecond

// errPodEnded: the Pod ended (failed, deleted, past its deadline) before
// the container waited for started.
var errPodEnded = errors.New("the pod ended")

// containerState waits until the named container has started (running or
// terminated) and returns its status. A container that cannot start
// (image pull back-off, bad config) is an error quoting the kubelet.
func (p *podRun) containerState(ctx context.Context, name string, done bool) (corev1.ContainerStatus, error) {
	pods := p.r.client.CoreV1().Pods(p.r.opts.Namespace)
	for {
		pod, err := pods.Get(ctx, p.name, metav1.GetOptions{})
		if err != nil {
			return corev1.ContainerStatus{}, fmt.Errorf("reading pod %s: %w", p.name, err)
		}
		st, ok := findStatus(pod, name)
		switch {
		case ok && st.State.Terminated != nil:
			return st, nil
		case ok && st.State.Running != nil && !done:
			return st, nil
		case ok && st.State.Waiting != nil && fatalWaiting(st.State.Waiting.Reason):
			return st, fmt.Errorf("container %s (%s) cannot start: %s: %s", name, st.Image, st.State.Waiting.Reason, st.State.Waiting.Message)
		case pod.Status.Phase == corev1.PodFailed || pod.Status.Phase == corev1.PodSucceeded:
			return st, fmt.Errorf("%w (%s %s) before container %s finished", errPodEnded, pod.Status.Reason, pod.Status.Message, name)
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(pollEvery):
		}
	}
}

func findStatus(pod *corev1.Pod, name string) (corev1.ContainerStatus, bool) {
	for _, list := range [][]corev1.ContainerStatus{pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses} {
		for _, st := range list {
			if st.Name == name {
				return st, true
			}
		}
	}
	return corev1.ContainerStatus{}, false
}

func fatalWaiting(reason string) bool {
	switch reason {
	case "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull", "CreateContainerConfigError", "RunContainerError":
		return true
	}
	return false
}

// attach streams stdin into the named container and its stdout into
// stdout, until the container ends.
func (p *podRun) attach(ctx context.Context, container string, stdin io.Reader, stdout io.Writer) error {
	req := p.r.client.CoreV1().RESTClient().Post().Resource("pods").Namespace(p.r.opts.Namespace).
		Name(p.name).SubResource("attach").VersionedParams(&corev1.PodAttachOptions{
		Container: container, Stdin: true, Stdout: stdout != nil, Stderr: true}, scheme.ParameterCodec)
	ws, err := remotecommand.NewWebSocketExecutor(p.r.opts.Config, http.MethodGet, req.URL().String())
	if err != nil {
		return err
	}
	spdy, err := remotecommand.NewSPDYExecutor(p.r.opts.Config, http.MethodPost, req.URL())
	if err != nil {
		return err
	}
	exec, err := remotecommand.NewFallbackExecutor(ws, spdy, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
	if err != nil {
		return err
	}
	var stderr bytes.Buffer
	err = exec.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: stdin, Stdout: stdout, Stderr: &limited{w: &stderr, n: 4096}})
	if err != nil {
		return fmt.Errorf("attaching to %s: %w (%s)", container, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// helperDone waits for a helper container to end and fails unless it
// exited 0.
func (p *podRun) helperDone(ctx context.Context, name string) error {
	st, err := p.containerState(ctx, name, true)
	if err != nil {
		return err
	}
	if t := st.State.Terminated; t.ExitCode != 0 {
		return fmt.Errorf("%s exited %d: %s", name, t.ExitCode, strings.TrimSpace(t.Message))
	}
	return nil
}

// stageIn waits for the network to be down (a task Pod), then sends the
// mounts' files into the work volume.
func (p *podRun) stageIn(ctx context.Context) error {
	if !p.network() {
		if err := p.helperDone(ctx, netDown); err != nil {
			return fmt.Errorf("taking the pod's network down: %w: %s", err, p.logTail(ctx, netDown))
		}
	}
	if _, err := p.containerState(ctx, stageIn, false); err != nil {
		return err
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(packMounts(pw, p.steps[0].Mounts)) }()
	if err := p.attach(ctx, stageIn, pr, nil); err != nil {
		pr.CloseWithError(err)
		return fmt.Errorf("copying the task's files into the pod: %w", err)
	}
	if err := p.helperDone(ctx, stageIn); err != nil {
		return fmt.Errorf("copying the task's files into the pod: %w: %s", err, p.logTail(ctx, stageIn))
	}
	return nil
}

// stageOut copies the writable mounts back: the stage-out container waits
// for a line on stdin, then writes a tar of them on stdout.
func (p *podRun) stageOut(ctx context.Context) error {
	if _, err := p.containerState(ctx, stageOut, false); err != nil {
		return err
	}
	pr, pw := io.Pipe()
	extracted := make(chan error, 1)
	go func() {
		err := unpackMounts(pr, p.steps[0].Mounts, p.r.opts.MaxTransfer)
		_, _ = io.Copy(io.Discard, pr)
		extracted <- err
	}()
	err := p.attach(ctx, stageOut, strings.NewReader("go\n"), pw)
	pw.CloseWithError(err)
	if xerr := <-extracted; err == nil && xerr != nil {
		err = xerr
	}
	if err == nil {
		err = p.helperDone(ctx, stageOut)
	}
	if err != nil {
		return fmt.Errorf("copying the task's files out of the pod: %w", err)
	}
	return nil
}

// runSteps streams each step's log as it runs and reads how it ended.
func (p *podRun) runSteps(ctx context.Context, start func(int) io.Writer) ([]sandbox.Result, error) {
	var results []sandbox.Result
	for i, s := range p.steps {
		name := fmt.Sprintf("step-%d", i)
		if _, err := p.containerState(ctx, name, false); err != nil {
			if errors.Is(err, errPodEnded) && len(results) > 0 {
				break
			}
			return results, p.stopped(ctx, err)
		}
		res, err := p.runStep(ctx, name, s, start(i))
		results = append(results, res)
		if err != nil || failed(res) {
			return results, err
		}
	}
	return results, nil
}

// runStep follows one step's log (bounded by its output limit and wall
// time) and returns how it ended.
func (p *podRun) runStep(ctx context.Context, name string, s sandbox.Step, out io.Writer) (sandbox.Result, error) {
	began := time.Now()
	sctx, cancel := ctx, context.CancelFunc(func() {})
	if s.Limits.WallTime > 0 {
		sctx, cancel = context.WithTimeout(ctx, s.Limits.WallTime)
	}
	defer cancel()
	overflow := p.followLog(sctx, name, s.Limits.Output, out)
	res := sandbox.Result{Duration: time.Since(began)}
	switch {
	case overflow:
		res.ExitCode, res.Reason = -1, "output-limit"
		return res, nil
	case sctx.Err() != nil && ctx.Err() == nil:
		res.ExitCode, res.Reason = -1, "timeout"
		return res, nil
	case ctx.Err() != nil:
		res.ExitCode, res.Reason = -1, "cancelled"
		return res, nil
	}
	st, err := p.containerState(sctx, name, true)
	res.Duration = time.Since(began)
	if err != nil {
		return sandbox.Result{ExitCode: -1, Duration: res.Duration}, p.stopped(ctx, err)
	}
	t := st.State.Terminated
	res.ExitCode = int(t.ExitCode)
	res.Reason = endReason(t, s.Limits.Memory)
	return res, nil
}

// endReason is why a step's container ended, in the sandbox's words:
// "memory-limit" when the runtime says OOMKilled, or when a container with
// a memory limit was killed by SIGKILL (137) that Kiln did not send (a
// timeout or cancellation is decided before the container's state is
// read). The runtime's OOM report is not reliable: containerd's OOM and
// exit events race, and a container killed right after its start is
// often reported as a plain error (containerd issues 8180, 12260). A step
// with a memory limit that exits 137 or kills itself with SIGKILL is
// reported as over its limit too.
func endReason(t *corev1.ContainerStateTerminated, memoryLimit int64) string {
	if t.Reason == "OOMKilled" || memoryLimit > 0 && t.ExitCode == 128+int32(syscall.SIGKILL) {
		return "memory-limit"
	}
	return ""
}

// followLog copies the container's log to out until the container ends;
// it reports whether the output limit was passed.
func (p *podRun) followLog(ctx context.Context, name string, limit int64, out io.Writer) bool {
	req := p.r.client.CoreV1().Pods(p.r.opts.Namespace).GetLogs(p.name, &corev1.PodLogOptions{Container: name, Follow: true})
	rc, err := req.Stream(ctx)
	if err != nil {
		fmt.Fprintf(out, "kiln: cannot read the step's log: %v\n", err)
		return false
	}
	defer rc.Close()
	if limit <= 0 {
		_, _ = io.Copy(out, rc)
		return false
	}
	n, _ := io.Copy(out, io.LimitReader(rc, limit+1))
	return n > limit
}

// stopped explains why the Pod could not go on.
func (p *podRun) stopped(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// logTail is the end of a helper container's log, for error messages.
func (p *podRun) logTail(ctx context.Context, name string) string {
	lines := int64(10)
	b, err := p.r.client.CoreV1().Pods(p.r.opts.Namespace).GetLogs(p.name, &corev1.PodLogOptions{Container: name, TailLines: &lines}).DoRaw(ctx)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// limited keeps the first n bytes written to it.
type limited struct {
	w io.Writer
	n int
}

func (l *limited) Write(b []byte) (int, error) {
	if l.n > 0 {
		k := min(len(b), l.n)
		_, _ = l.w.Write(b[:k])
		l.n -= k
	}
	return len(b), nil
}
