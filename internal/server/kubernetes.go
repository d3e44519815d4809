package server

import (
	"context"
	"fmt"
	"strings"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kilnbuild/kiln/internal/git"
	"github.com/kilnbuild/kiln/internal/kubeexec"
	"github.com/kilnbuild/kiln/internal/oci"
	"github.com/kilnbuild/kiln/internal/pipelinerun"
)

// HelperRepository is where the Kubernetes executor's helper image is
// pushed when the operator names none (the bootstrap namespace; Pods pull
// it by digest).
const HelperRepository = "default/kiln-kubernetes-helper"

// kubernetesRunner runs pipelines' steps as Pods. A bad configuration
// does not stop the server: every run fails saying why.
func (f *Factory) kubernetesRunner(cache *git.Cache, checkURL func(string) error) *pipelinerun.Runner {
	r := f.pipelineRunner(cache, checkURL)
	kr, err := f.kubeexec()
	if err != nil {
		f.cfg.Log.Warn("builds cannot run: kubernetes executor", "err", err)
		r.SandboxErr = err
		return r
	}
	r.Sandbox = kr
	return r
}

func (f *Factory) kubeexec() (*kubeexec.Runner, error) {
	k := f.cfg.Kubernetes
	cfg, err := kubeConfig(k.Kubeconfig)
	if err != nil {
		return nil, err
	}
	embedded := strings.TrimPrefix(f.URL, "https://")
	remote := oci.Remote{Token: f.systemToken, RootCAs: f.caPool()}
	return kubeexec.New(kubeexec.Options{
		Config: cfg, Namespace: k.Namespace, HelperImage: k.HelperImage,
		MakeHelper: func(ctx context.Context) (string, error) {
			return kubeexec.PushHelper(ctx, embedded+"/"+HelperRepository, remote)
		},
		Registry: embedded, NodeRegistry: k.NodeRegistry, Tokens: f.pullTokens, NodeName: k.NodeName,
		Protected: f.protectedPaths(),
	})
}

// kubeConfig reads a kubeconfig file, or the in-cluster configuration
// when none is named.
func kubeConfig(path string) (*rest.Config, error) {
	if path == "" {
		cfg, err := rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("kubernetes executor: no --kubeconfig and not in a cluster: %w", err)
		}
		return cfg, nil
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, fmt.Errorf("kubernetes executor: kubeconfig %s: %w", path, err)
	}
	return cfg, nil
}
