package kubeexec

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kilnbuild/kiln/internal/sandbox"
)

// Labels on every Pod the executor makes; the NetworkPolicies select on
// LabelNetwork.
const (
	LabelManaged = "kiln.dev/task"
	LabelNetwork = "kiln.dev/network"
	networkNone  = "none"
	networkOut   = "prefetch"
	// stepUID is the user steps run as (the bubblewrap sandbox's too).
	stepUID   = 1000
	workDir   = "/kiln/work"
	workVol   = "kiln-work"
	stageIn   = "kiln-stage-in"
	stageOut  = "kiln-stage-out"
	netDown   = "kiln-no-network"
	pullTTL   = 30 * time.Minute
	maxDeadln = 24 * time.Hour
)

// podRun is one task's Pod.
type podRun struct {
	r      *Runner
	steps  []sandbox.Step
	name   string
	secret string
	env    string // the Secret holding the steps' environment
}

func (p *podRun) network() bool { return len(p.steps) == 1 && p.steps[0].Network }

// create makes the pull secret and the Pod.
func (p *podRun) create(ctx context.Context) error {
	if err := p.createPullSecret(ctx); err != nil {
		return err
	}
	if err := p.createEnvSecret(ctx); err != nil {
		return err
	}
	_, err := p.r.client.CoreV1().Pods(p.r.opts.Namespace).Create(ctx, p.pod(), metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("creating pod %s/%s: %w", p.r.opts.Namespace, p.name, err)
	}
	return nil
}

// cleanup deletes the Pod and its secret, whatever happened.
func (p *podRun) cleanup() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	zero := int64(0)
	pods := p.r.client.CoreV1().Pods(p.r.opts.Namespace)
	_ = pods.Delete(ctx, p.name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
	for _, name := range []string{p.secret, p.env} {
		if name != "" {
			_ = p.r.client.CoreV1().Secrets(p.r.opts.Namespace).Delete(ctx, name, metav1.DeleteOptions{})
		}
	}
}

// createEnvSecret keeps the steps' environment (which may hold values of
// Kiln secrets) in a Secret of the Pod, so the Pod's spec shows none.
func (p *podRun) createEnvSecret(ctx context.Context) error {
	data := map[string][]byte{}
	for i, s := range p.steps {
		for j, kv := range s.Env {
			_, v, _ := strings.Cut(kv, "=")
			data[envKey(i, j)] = []byte(v)
		}
	}
	if len(data) == 0 {
		return nil
	}
	p.env = p.name + "-env"
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: p.env, Labels: map[string]string{LabelManaged: p.name}}, Data: data}
	if _, err := p.r.client.CoreV1().Secrets(p.r.opts.Namespace).Create(ctx, sec, metav1.CreateOptions{}); err != nil {
		p.env = ""
		return fmt.Errorf("creating the pod's environment secret: %w", err)
	}
	return nil
}

func envKey(step, i int) string { return fmt.Sprintf("step-%d-%d", step, i) }

// createPullSecret stores a read-only token for the Pod's images of Kiln's
// registry, valid for pullTTL, as the Pod's image pull secret.
func (p *podRun) createPullSecret(ctx context.Context) error {
	o := p.r.opts
	if o.Tokens == nil || o.Registry == "" {
		return nil
	}
	repos := []string{}
	for _, img := range append([]string{o.HelperImage}, p.images()...) {
		if repo, ok := p.r.repoOf(img); ok {
			repos = append(repos, repo)
		}
	}
	if len(repos) == 0 {
		return nil
	}
	token, err := o.Tokens.PullToken(repos, pullTTL)
	if err != nil {
		return fmt.Errorf("minting the pod's pull token: %w", err)
	}
	auth := base64.StdEncoding.EncodeToString([]byte("kiln:" + token))
	cfg, _ := json.Marshal(map[string]any{"auths": map[string]any{p.r.nodeRegistry(): map[string]string{
		"username": "kiln", "password": token, "auth": auth}}})
	p.secret = p.name + "-pull"
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: p.secret, Labels: map[string]string{LabelManaged: p.name}},
		Type: corev1.SecretTypeDockerConfigJson, Data: map[string][]byte{corev1.DockerConfigJsonKey: cfg}}
	if _, err := p.r.client.CoreV1().Secrets(o.Namespace).Create(ctx, s, metav1.CreateOptions{}); err != nil {
		p.secret = ""
		return fmt.Errorf("creating the pod's pull secret: %w", err)
	}
	return nil
}

func (p *podRun) images() []string {
	var out []string
	for _, s := range p.steps {
		out = append(out, s.Image)
	}
	return out
}

// repoOf is the repository of an image of Kiln's registry.
func (r *Runner) repoOf(image string) (string, bool) {
	rest, ok := strings.CutPrefix(image, r.opts.Registry+"/")
	if !ok {
		return "", false
	}
	if i := strings.Index(rest, "@"); i >= 0 {
		rest = rest[:i]
	}
	if i := strings.LastIndex(rest, ":"); i >= 0 {
		rest = rest[:i]
	}
	return rest, rest != ""
}

func (r *Runner) nodeRegistry() string {
	if r.opts.NodeRegistry != "" {
		return r.opts.NodeRegistry
	}
	return r.opts.Registry
}

// nodeImage is an image reference as the node pulls it.
func (r *Runner) nodeImage(image string) string {
	if rest, ok := strings.CutPrefix(image, r.opts.Registry+"/"); ok && r.opts.Registry != "" {
		return r.nodeRegistry() + "/" + rest
	}
	return image
}

// pod is the task's Pod: the helper's init containers around the steps,
// the stage-out container last.
func (p *podRun) pod() *corev1.Pod {
	network := networkNone
	if p.network() {
		network = networkOut
	}
	var inits []corev1.Container
	if !p.network() {
		inits = append(inits, p.noNetwork())
	}
	inits = append(inits, p.helper(stageIn, "mkdir -p . "+strings.Join(p.mountDirs(false), " ")+" && exec tar -x -f -"))
	for i, s := range p.steps {
		inits = append(inits, p.stepContainer(i, s))
	}
	back := strings.Join(p.mountDirs(true), " ")
	if back == "" {
		back = "-T /dev/null" // nothing writable: an empty archive
	}
	out := p.helper(stageOut, "read -r go && exec tar -c -f - "+back)
	no, yes := false, true
	uid := int64(stepUID)
	deadline := int64(p.deadline().Seconds())
	spec := corev1.PodSpec{
		RestartPolicy: corev1.RestartPolicyNever, NodeName: p.r.opts.NodeName,
		AutomountServiceAccountToken: &no, EnableServiceLinks: &no, HostNetwork: false,
		ActiveDeadlineSeconds: &deadline, TerminationGracePeriodSeconds: new(int64),
		SecurityContext: &corev1.PodSecurityContext{RunAsUser: &uid, RunAsGroup: &uid, RunAsNonRoot: &yes,
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
		InitContainers: inits, Containers: []corev1.Container{out}, Volumes: p.volumes(),
	}
	if p.secret != "" {
		spec.ImagePullSecrets = []corev1.LocalObjectReference{{Name: p.secret}}
	}
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: p.name,
		Labels: map[string]string{LabelManaged: p.name, LabelNetwork: network}}, Spec: spec}
}

// deadline bounds the whole Pod: every step's wall time, plus a margin
// for pulls and the transfers.
func (p *podRun) deadline() time.Duration {
	d := 10 * time.Minute
	for _, s := range p.steps {
		if s.Limits.WallTime <= 0 {
			return maxDeadln
		}
		d += s.Limits.WallTime
	}
	return min(d, maxDeadln)
}

// mountDirs are the work volume's directories of the mounts (m0, m1, …),
// the writable ones only when writable is set.
func (p *podRun) mountDirs(writable bool) []string {
	var out []string
	for i, m := range p.steps[0].Mounts {
		if !writable || m.Writable {
			out = append(out, fmt.Sprintf("m%d", i))
		}
	}
	return out
}

func (p *podRun) volumes() []corev1.Volume {
	vols := []corev1.Volume{{Name: workVol, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	for i := range p.steps {
		vols = append(vols, corev1.Volume{Name: fmt.Sprintf("tmp-%d", i), VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
	}
	return vols
}

// helper is a container of the helper image running a shell command in
// the work volume, reading stdin (the server attaches to it).
func (p *podRun) helper(name, script string) corev1.Container {
	return corev1.Container{
		Name: name, Image: p.r.nodeImage(p.r.opts.HelperImage), ImagePullPolicy: corev1.PullAlways,
		Command: []string{"/bin/busybox", "sh", "-c", script}, WorkingDir: workDir,
		Stdin: true, StdinOnce: true,
		VolumeMounts:    []corev1.VolumeMount{{Name: workVol, MountPath: workDir}},
		SecurityContext: restricted(),
		Resources:       limits(256 << 20),
	}
}

// noNetwork takes every interface of the Pod's network namespace but
// loopback down, with CAP_NET_ADMIN (the steps after it have no
// capability to bring them back), and fails unless no route is left.
func (p *podRun) noNetwork() corev1.Container {
	c := p.helper(netDown, `for d in /sys/class/net/*; do n=${d##*/}; [ "$n" = lo ] || ip link set "$n" down || exit 1; done
if ip route show | grep -q . || ip -6 route show 2>/dev/null | grep -v ' dev lo ' | grep -q .; then echo "routes left:"; ip route; ip -6 route; exit 1; fi`)
	c.Stdin, c.StdinOnce = false, false
	c.VolumeMounts = nil
	root, no := int64(0), false
	c.SecurityContext.RunAsUser, c.SecurityContext.RunAsNonRoot = &root, &no
	c.SecurityContext.Capabilities.Add = []corev1.Capability{"NET_ADMIN"}
	return c
}

// stepContainer runs one step: its image by digest, its command,
// environment and working directory, the mounts as sub-directories of the
// work volume, a /tmp of its own, no capability, a read-only root.
func (p *podRun) stepContainer(i int, s sandbox.Step) corev1.Container {
	c := corev1.Container{
		Name: fmt.Sprintf("step-%d", i), Image: p.r.nodeImage(s.Image), ImagePullPolicy: corev1.PullAlways,
		Command: s.Command, WorkingDir: s.WorkDir, Env: p.envVars(i, s.Env),
		SecurityContext: restricted(), Resources: limits(s.Limits.Memory),
		VolumeMounts: []corev1.VolumeMount{{Name: fmt.Sprintf("tmp-%d", i), MountPath: "/tmp"}},
	}
	for j, m := range s.Mounts {
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: workVol, MountPath: m.Target,
			SubPath: fmt.Sprintf("m%d", j), ReadOnly: !m.Writable})
	}
	return c
}

// envVars are the step's variables, each read from the Pod's
// environment Secret.
func (p *podRun) envVars(step int, env []string) []corev1.EnvVar {
	var out []corev1.EnvVar
	for j, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		out = append(out, corev1.EnvVar{Name: k, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: p.env}, Key: envKey(step, j)}}})
	}
	return out
}

func restricted() *corev1.SecurityContext {
	no, yes := false, true
	return &corev1.SecurityContext{AllowPrivilegeEscalation: &no, ReadOnlyRootFilesystem: &yes, Privileged: &no,
		Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}}
}

// limits sets the memory limit (and request: the scheduler reserves it).
func limits(memory int64) corev1.ResourceRequirements {
	if memory <= 0 {
		return corev1.ResourceRequirements{}
	}
	q := *resource.NewQuantity(memory, resource.BinarySI)
	return corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: q},
		Requests: corev1.ResourceList{corev1.ResourceMemory: q}}
}
