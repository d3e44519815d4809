// Package kubeexec runs build tasks on Kubernetes: each task is one Pod
// whose init containers are the task's steps, in order, sharing an
// emptyDir workspace. See docs/kubernetes.md.
package kubeexec

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kilnbuild/kiln/internal/sandbox"
)

// PullTokens mints the short-lived registry credential a Pod pulls its
// images with: read-only, for the named repositories only.
type PullTokens interface {
	PullToken(repositories []string, ttl time.Duration) (string, error)
}

// Options configure a Runner.
type Options struct {
	// Config reaches the cluster (a kubeconfig's).
	Config *rest.Config
	// Namespace is where the Pods run; it must exist.
	Namespace string
	// HelperImage is an image with a static busybox at /bin/busybox (and
	// its applets in /bin), by digest: it copies the task's files into the
	// Pod and back out, and takes the Pod's network down. When empty,
	// MakeHelper is called once, before the first Pod (PushHelper makes
	// one from the host's busybox).
	HelperImage string
	MakeHelper  func(ctx context.Context) (string, error)
	// Registry is Kiln's registry host (host:port) as image references
	// name it; NodeRegistry is how the cluster's nodes reach it, when
	// different. Images of Registry are pulled with a PullTokens token.
	Registry, NodeRegistry string
	Tokens                 PullTokens
	// NodeName pins the Pods to a node (a cluster without a scheduler);
	// empty lets the scheduler place them.
	NodeName string
	// MaxTransfer bounds the bytes copied back out of a Pod; default 8 GiB.
	MaxTransfer int64
	// Protected are paths never copied into a Pod (the data directory,
	// the signing key): a mount at, inside or around one is refused.
	Protected []string
}

// Runner runs steps and tasks as Pods. It implements sandbox.TaskRunner.
type Runner struct {
	opts   Options
	client kubernetes.Interface

	mu    sync.Mutex
	ready bool
}

// New checks the options. The cluster is first contacted by the first
// Pod (so a server starts while its cluster is away; builds then fail
// saying why).
func New(opts Options) (*Runner, error) {
	switch {
	case opts.Config == nil:
		return nil, errors.New("kubernetes executor: no cluster configuration (give a kubeconfig)")
	case opts.Namespace == "":
		return nil, errors.New("kubernetes executor: no namespace (give --namespace)")
	case opts.HelperImage == "" && opts.MakeHelper == nil:
		return nil, errors.New("kubernetes executor: no helper image")
	case opts.HelperImage != "" && !strings.Contains(opts.HelperImage, "@sha256:"):
		return nil, fmt.Errorf("kubernetes executor: helper image %q must be named by digest (repository@sha256:…)", opts.HelperImage)
	}
	if opts.MaxTransfer <= 0 {
		opts.MaxTransfer = 8 << 30
	}
	client, err := kubernetes.NewForConfig(opts.Config)
	if err != nil {
		return nil, fmt.Errorf("kubernetes executor: %w", err)
	}
	return &Runner{opts: opts, client: client}, nil
}

// prepare checks the namespace, puts its NetworkPolicies in place and
// makes the helper image, once (again after a failure).
func (r *Runner) prepare(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ready {
		return nil
	}
	if _, err := r.client.CoreV1().Namespaces().Get(ctx, r.opts.Namespace, metav1.GetOptions{}); err != nil {
		return fmt.Errorf("kubernetes executor: namespace %s: %w", r.opts.Namespace, err)
	}
	if err := r.ensurePolicies(ctx); err != nil {
		return err
	}
	if r.opts.HelperImage == "" {
		img, err := r.opts.MakeHelper(ctx)
		if err != nil {
			return fmt.Errorf("kubernetes executor: %w", err)
		}
		r.opts.HelperImage = img
	}
	r.ready = true
	return nil
}

// Name identifies the backend in provenance.
func (r *Runner) Name() string { return "kubernetes" }

// Run runs one step as a Pod of its own (prefetch steps: the only ones
// with network).
func (r *Runner) Run(ctx context.Context, step sandbox.Step) (sandbox.Result, error) {
	out := io.MultiWriter(step.Stdout)
	if step.Stderr != nil && step.Stderr != step.Stdout {
		out = io.MultiWriter(step.Stdout, step.Stderr)
	}
	res, err := r.RunTask(ctx, []sandbox.Step{step}, func(int) io.Writer { return out })
	if err != nil || len(res) == 0 {
		return sandbox.Result{ExitCode: -1}, orNotRun(err)
	}
	return res[0], nil
}

func orNotRun(err error) error {
	if err != nil {
		return err
	}
	return errors.New("the step's pod ended before the step started")
}

// RunTask runs steps as one Pod: the task's files go in, the steps run in
// order, what they wrote comes back.
func (r *Runner) RunTask(ctx context.Context, steps []sandbox.Step, start func(i int) io.Writer) ([]sandbox.Result, error) {
	if len(steps) == 0 {
		return nil, nil
	}
	if err := checkSteps(steps); err != nil {
		return nil, err
	}
	if err := checkProtected(steps[0].Mounts, r.opts.Protected); err != nil {
		return nil, err
	}
	if err := r.prepare(ctx); err != nil {
		return nil, err
	}
	p := &podRun{r: r, steps: steps, name: "kiln-task-" + randomHex(6)}
	defer p.cleanup()
	if err := p.create(ctx); err != nil {
		return nil, err
	}
	if err := p.stageIn(ctx); err != nil {
		return nil, err
	}
	results, err := p.runSteps(ctx, start)
	if err != nil || len(results) < len(steps) || failed(results[len(results)-1]) {
		return results, err
	}
	return results, p.stageOut(ctx)
}

func failed(res sandbox.Result) bool { return res.ExitCode != 0 || res.Reason != "" }

// checkSteps refuses what a Pod cannot run.
func checkSteps(steps []sandbox.Step) error {
	for i, s := range steps {
		switch {
		case s.Image == "":
			return fmt.Errorf("step %d: the Kubernetes executor runs images only, not the host's root (image %q): name an image", i+1, "host")
		case len(s.Command) == 0:
			return fmt.Errorf("step %d: no command", i+1)
		case s.Network && len(steps) > 1:
			return fmt.Errorf("step %d: a network step runs in a Pod of its own", i+1)
		case i > 0 && !sameMounts(s.Mounts, steps[0].Mounts):
			return fmt.Errorf("step %d: the steps of a task must share their mounts", i+1)
		}
	}
	return nil
}

// checkProtected refuses a mount whose source is, lies inside or holds a
// protected path: its files would be copied into the cluster.
func checkProtected(mounts []sandbox.Mount, protected []string) error {
	for _, m := range mounts {
		src, err := filepath.EvalSymlinks(m.Source)
		if err != nil {
			return fmt.Errorf("mount %s: %w", m.Target, err)
		}
		for _, p := range protected {
			if within(src, p) || within(p, src) {
				return fmt.Errorf("mount %s: %s is or holds %s, which never leaves the server", m.Target, src, p)
			}
		}
	}
	return nil
}

// within says whether path is dir or lies inside it.
func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

func sameMounts(a, b []sandbox.Mount) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Source != b[i].Source || a[i].Target != b[i].Target || a[i].Writable != b[i].Writable {
			return false
		}
	}
	return true
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
