package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/kilnbuild/kiln/internal/client"
)

// kubeconfig is the subset of kubectl's v1 Config that kiln writes.
type kubeconfig struct {
	APIVersion     string         `json:"apiVersion"`
	Kind           string         `json:"kind"`
	Clusters       []namedCluster `json:"clusters"`
	Users          []namedUser    `json:"users"`
	Contexts       []namedContext `json:"contexts"`
	CurrentContext string         `json:"current-context"`
}

type namedCluster struct {
	Name    string `json:"name"`
	Cluster struct {
		Server                   string `json:"server"`
		CertificateAuthorityData []byte `json:"certificate-authority-data,omitempty"`
		InsecureSkipTLSVerify    bool   `json:"insecure-skip-tls-verify,omitempty"`
	} `json:"cluster"`
}

type namedUser struct {
	Name string `json:"name"`
	User struct {
		Token string `json:"token,omitempty"`
	} `json:"user"`
}

type namedContext struct {
	Name    string `json:"name"`
	Context struct {
		Cluster   string `json:"cluster"`
		User      string `json:"user"`
		Namespace string `json:"namespace,omitempty"`
	} `json:"context"`
}

func newKubeconfigCommand(g *globals) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "kubeconfig [-o FILE]",
		Short: "Write a kubeconfig so kubectl works against Kiln",
		Long: "Write a kubeconfig (v1 Config) for the configured server, token and namespace, so\n" +
			"kubectl (and other Kubernetes tools) can talk to Kiln. Printed to stdout unless -o is given.",
		Example: "  kiln kubeconfig -o kiln.kubeconfig && KUBECONFIG=kiln.kubeconfig kubectl get components",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.config()
			if err != nil {
				return err
			}
			kc, err := buildKubeconfig(cfg, g.ns())
			if err != nil {
				return err
			}
			data, err := yaml.Marshal(kc)
			if err != nil {
				return err
			}
			if file == "" || file == "-" {
				_, err = cmd.OutOrStdout().Write(data)
				return err
			}
			if err := os.WriteFile(file, data, 0o600); err != nil {
				return fmt.Errorf("write kubeconfig: %w", err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "Wrote %s; use it with: KUBECONFIG=%s kubectl get components\n", file, file)
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "output", "o", "", "file to write (mode 0600); default stdout")
	return cmd
}

func buildKubeconfig(cfg *client.Config, namespace string) (kubeconfig, error) {
	const name = "kiln"
	kc := kubeconfig{APIVersion: "v1", Kind: "Config", CurrentContext: name}
	cl := namedCluster{Name: name}
	cl.Cluster.Server = cfg.Server
	cl.Cluster.InsecureSkipTLSVerify = cfg.InsecureSkipTLSVerify
	ca, err := cfg.CAPEM()
	if err != nil {
		return kc, err
	}
	cl.Cluster.CertificateAuthorityData = ca
	u := namedUser{Name: name}
	u.User.Token = cfg.Token
	ctx := namedContext{Name: name}
	ctx.Context.Cluster, ctx.Context.User, ctx.Context.Namespace = name, name, namespace
	kc.Clusters, kc.Users, kc.Contexts = []namedCluster{cl}, []namedUser{u}, []namedContext{ctx}
	return kc, nil
}
