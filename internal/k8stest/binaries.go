package k8stest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// EnvBinaries names a directory holding etcd, kube-apiserver and kubelet.
// Without it, Binaries builds them with scripts/k8s-binaries.sh (cached
// by version under $KILN_K8S_BIN_CACHE or ~/.cache/kiln-k8s) when
// EnvRequire or CI is set, else it reports them missing.
const (
	EnvBinaries = "KILN_K8S_BIN_DIR"
	EnvRequire  = "KILN_REQUIRE_K8S"
)

// ErrUnavailable means the cluster cannot run here (a binary or package
// is missing, or the process is not root); tests skip on it unless
// Required.
var ErrUnavailable = errors.New("a test Kubernetes cluster cannot run here")

// Required says whether tests must fail rather than skip without a cluster.
func Required() bool { return os.Getenv(EnvRequire) != "" || os.Getenv("CI") != "" }

// Binaries returns the directory of the cluster's binaries.
func Binaries(ctx context.Context) (string, error) {
	if os.Geteuid() != 0 {
		return "", fmt.Errorf("%w: it needs root (containerd, the kubelet)", ErrUnavailable)
	}
	for _, tool := range []string{"containerd", "ctr", "runc", "ip", "busybox"} {
		if _, err := exec.LookPath(tool); err != nil {
			return "", fmt.Errorf("%w: %s not found (scripts/test-deps.sh installs it)", ErrUnavailable, tool)
		}
	}
	if _, err := os.Stat(filepath.Join(cniBinDir(), "bridge")); err != nil {
		return "", fmt.Errorf("%w: CNI plugins not found (apt-get install containernetworking-plugins)", ErrUnavailable)
	}
	if d := os.Getenv(EnvBinaries); d != "" {
		return d, haveBinaries(d)
	}
	return buildBinaries(ctx)
}

func haveBinaries(dir string) error {
	for _, b := range []string{"etcd", "kube-apiserver", "kubelet"} {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
			return fmt.Errorf("%w: %s: %v (scripts/k8s-binaries.sh builds them)", ErrUnavailable, b, err)
		}
	}
	return nil
}

// buildBinaries runs scripts/k8s-binaries.sh, which returns at once when
// the binaries are cached; without Required it only looks in the cache.
func buildBinaries(ctx context.Context) (string, error) {
	script, err := findScript()
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, script)
	if !Required() {
		cmd.Env = append(os.Environ(), "KILN_K8S_CACHED_ONLY=1")
	}
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%w: %s: %v (run it once to build etcd, kube-apiserver and the kubelet, ~8 min)", ErrUnavailable, script, err)
	}
	dir := strings.TrimSpace(string(out))
	return dir, haveBinaries(dir)
}

func findScript() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, "scripts", "k8s-binaries.sh")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("%w: scripts/k8s-binaries.sh not found above the working directory", ErrUnavailable)
		}
		dir = parent
	}
}
