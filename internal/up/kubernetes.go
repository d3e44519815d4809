package up

import (
	"fmt"
	"os"

	"github.com/spf13/pflag"

	"github.com/kilnbuild/kiln/internal/server"
)

// kubeFlags configure the Kubernetes executor (chosen with --executor
// kubernetes; the --executor flag itself is registered by `kiln up`).
type kubeFlags struct {
	k server.Kubernetes
}

// registerExecutor registers the one --executor flag into executor.
func registerExecutor(f *pflag.FlagSet, executor *string) {
	f.StringVar(executor, "executor", envOr("KILN_EXECUTOR", server.ExecutorLocal),
		"where builds run: local (this server's bubblewrap sandbox; bubblewrap is a synonym), remote (only on `kiln worker` processes), "+
			"local+remote (here while --build-workers slots are free, else on workers) or kubernetes (Pods of a cluster; see docs/kubernetes.md); env KILN_EXECUTOR")
}

func (k *kubeFlags) register(f *pflag.FlagSet) {
	f.StringVar(&k.k.Kubeconfig, "kubeconfig", os.Getenv("KILN_KUBECONFIG"),
		"with --executor kubernetes: the cluster's kubeconfig (default: the in-cluster service account; env KILN_KUBECONFIG)")
	f.StringVar(&k.k.Namespace, "namespace", os.Getenv("KILN_NAMESPACE"),
		"with --executor kubernetes: the namespace build Pods run in (must exist; env KILN_NAMESPACE)")
	f.StringVar(&k.k.HelperImage, "kubernetes-helper-image", os.Getenv("KILN_KUBERNETES_HELPER_IMAGE"),
		"with --executor kubernetes: an image with a static busybox, by digest (default: made from this host's busybox-static and pushed to the embedded registry)")
	f.StringVar(&k.k.NodeRegistry, "kubernetes-node-registry", os.Getenv("KILN_KUBERNETES_NODE_REGISTRY"),
		"with --executor kubernetes: host:port the cluster's nodes reach this server's registry at (default: the server's address)")
	f.StringVar(&k.k.NodeName, "kubernetes-node", os.Getenv("KILN_KUBERNETES_NODE"),
		"with --executor kubernetes: run every Pod on this node (clusters without a scheduler; default: the scheduler places them)")
}

// config returns the Kubernetes executor's configuration, or nil for the
// other executors. --executor kubernetes and bubblewrap become local
// dispatch (the server runs the build; its steps run in Pods or the sandbox).
func (k *kubeFlags) config(executor *string) (*server.Kubernetes, error) {
	switch *executor {
	case "bubblewrap", "", server.ExecutorLocal, server.ExecutorRemote, server.ExecutorLocalRemote:
		if k.k != (server.Kubernetes{}) {
			return nil, fmt.Errorf("--kubeconfig, --namespace and --kubernetes-* need --executor kubernetes")
		}
		if *executor == "bubblewrap" {
			*executor = server.ExecutorLocal
		}
		return nil, nil
	case "kubernetes":
		if k.k.Namespace == "" {
			return nil, fmt.Errorf("--executor kubernetes needs --namespace: the namespace build Pods run in")
		}
		*executor = server.ExecutorLocal
		c := k.k
		return &c, nil
	}
	return nil, fmt.Errorf("--executor %q: want local, remote, local+remote or kubernetes", *executor)
}
