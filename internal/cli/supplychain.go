package cli

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kilnbuild/kiln/internal/attest"
	"github.com/kilnbuild/kiln/internal/client"
	"github.com/kilnbuild/kiln/internal/oci"
)

const builderPath = "/apis/kiln.dev/v1alpha1/builder"

// builderInfo is what the server says about its builder identity.
type builderInfo struct {
	BuilderID string `json:"builderId"`
	PublicKey string `json:"publicKey"`
	KeyID     string `json:"keyId"`
}

func fetchBuilder(ctx context.Context, c *client.Client) (builderInfo, error) {
	var info builderInfo
	data, err := c.Do(ctx, http.MethodGet, builderPath, nil, nil)
	if err != nil {
		return info, fmt.Errorf("asking the server for its builder key: %w", err)
	}
	return info, decodeJSON(data, &info)
}

func newKeysCommand(g *globals) *cobra.Command {
	keys := &cobra.Command{Use: "keys", Short: "Show the builder's signing identity and the namespace's repository key"}
	var output, format string
	public := &cobra.Command{
		Use:   "public [--format pem|openpgp]",
		Short: "Print a public key: the builder's (PEM, for cosign verify --key) or the namespace's apt repository key (OpenPGP)",
		Example: "  kiln keys public > kiln.pub\n" +
			"  cosign verify --key kiln.pub --insecure-ignore-tlog=true --new-bundle-format=false REPO@DIGEST\n" +
			"  kiln keys public --format openpgp -n team | sudo tee /etc/apt/keyrings/kiln-team.asc",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := oneOf(output, "", outJSON, outYAML); err != nil {
				return err
			}
			switch format {
			case "pem":
				return printBuilderKey(cmd, g, output)
			case "openpgp":
				return printOpenPGPKey(cmd, g, output)
			}
			return fmt.Errorf("--format %q: use pem (the builder's cosign key) or openpgp (the namespace's apt repository key)", format)
		},
	}
	public.Flags().StringVarP(&output, "output", "o", "", "output format: yaml or json (with the key's id or fingerprint)")
	public.Flags().StringVar(&format, "format", "pem", "pem: the builder's signing key; openpgp: the namespace's repository signing key")
	keys.AddCommand(public)
	return keys
}

func printBuilderKey(cmd *cobra.Command, g *globals, output string) error {
	c, err := g.client(cmd)
	if err != nil {
		return err
	}
	info, err := fetchBuilder(cmd.Context(), c)
	if err != nil {
		return err
	}
	switch output {
	case outJSON:
		return printJSON(cmd.OutOrStdout(), info)
	case outYAML:
		return printYAML(cmd.OutOrStdout(), info)
	}
	_, err = fmt.Fprint(cmd.OutOrStdout(), info.PublicKey)
	return err
}

// openPGPKey is a namespace's repository signing key.
type openPGPKey struct {
	Namespace   string `json:"namespace"`
	Fingerprint string `json:"fingerprint"`
	PublicKey   string `json:"publicKey"`
}

func printOpenPGPKey(cmd *cobra.Command, g *globals, output string) error {
	c, err := g.client(cmd)
	if err != nil {
		return err
	}
	data, err := c.Do(cmd.Context(), http.MethodGet, "/openpgp-keys/"+url.PathEscape(g.ns()), nil, http.Header{"Accept": {"application/json"}})
	if err != nil {
		return fmt.Errorf("asking the server for the repository key of namespace %s: %w", g.ns(), err)
	}
	var key openPGPKey
	if err := decodeJSON(data, &key); err != nil {
		return err
	}
	switch output {
	case outJSON:
		return printJSON(cmd.OutOrStdout(), key)
	case outYAML:
		return printYAML(cmd.OutOrStdout(), key)
	}
	_, err = fmt.Fprint(cmd.OutOrStdout(), key.PublicKey)
	return err
}

func newEvidenceCommands(g *globals) []*cobra.Command {
	prov := &cobra.Command{
		Use:     "provenance BUILD",
		Short:   "Print a build's signed SLSA provenance statement (in-toto JSON)",
		Example: "  kiln provenance greet-1a2b3c4d5e6f -n team",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return printSubresource(cmd, g, args[0], "provenance")
		},
	}
	var format string
	sbom := &cobra.Command{
		Use:     "sbom BUILD [--format spdx|cyclonedx]",
		Short:   "Print a build's SBOM (SPDX 2.3 JSON, or CycloneDX 1.6)",
		Example: "  kiln sbom greet-1a2b3c4d5e6f\n  kiln sbom greet-1a2b3c4d5e6f --format cyclonedx",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "spdx" && format != "cyclonedx" {
				return fmt.Errorf("--format %q: use spdx or cyclonedx", format)
			}
			return printSubresource(cmd, g, args[0], "sbom?format="+format)
		},
	}
	sbom.Flags().StringVar(&format, "format", "spdx", "spdx or cyclonedx")
	return []*cobra.Command{prov, sbom}
}

func printSubresource(cmd *cobra.Command, g *globals, name, sub string) error {
	c, res, err := g.builds(cmd)
	if err != nil {
		return err
	}
	data, err := c.Do(cmd.Context(), http.MethodGet, res.Path(g.ns(), name, sub), nil, nil)
	if err != nil {
		return err
	}
	_, err = cmd.OutOrStdout().Write(append(data, '\n'))
	return err
}

type verifyOptions struct {
	g         *globals
	keyFile   string
	builderID string
	output    string
	noSBOM    bool
}

func newVerifyCommand(g *globals) *cobra.Command {
	o := &verifyOptions{g: g}
	cmd := &cobra.Command{
		Use:   "verify REF|DIGEST",
		Short: "Check an artifact's signature, attestations and provenance",
		Long: "Verify checks the cosign signature over the artifact digest, each attestation's\n" +
			"signature and subject, that the SLSA provenance says this Kiln built it from the git\n" +
			"source it names, and the SBOM. REF is REGISTRY/NAMESPACE/COMPONENT[:TAG|@DIGEST]; a\n" +
			"bare sha256:… digest is looked up among the namespace's builds. The key and builder id\n" +
			"default to the server's. Exits non-zero with the precise reason on any failure.",
		Example: "  kiln verify 127.0.0.1:7070/team/greet:build-3\n" +
			"  kiln verify sha256:4f1c… -n team -o json\n  kiln verify REF --key kiln.pub --builder-id https://kiln.dev/builder/v1",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd, args[0]) },
	}
	cmd.Flags().StringVar(&o.keyFile, "key", "", "PEM public key to verify with (default: the server's builder key)")
	cmd.Flags().StringVar(&o.builderID, "builder-id", "", "builder id the provenance must name (default: the server's)")
	cmd.Flags().StringVarP(&o.output, "output", "o", "", "output format: json")
	cmd.Flags().BoolVar(&o.noSBOM, "sbom-optional", false, "accept an artifact without an SBOM attestation")
	return cmd
}

func (o *verifyOptions) run(cmd *cobra.Command, ref string) error {
	if o.output != "" && o.output != outJSON {
		return fmt.Errorf("unknown output format %q: use json", o.output)
	}
	c, err := o.g.client(cmd)
	if err != nil {
		return err
	}
	pub, builderID, err := o.identity(cmd.Context(), c)
	if err != nil {
		return err
	}
	if strings.HasPrefix(ref, "sha256:") {
		if ref, err = findArtifact(cmd, c, o.g.ns(), ref); err != nil {
			return err
		}
	}
	rem, err := registryRemote(c.Config(), ref)
	if err != nil {
		return err
	}
	rep, verr := attest.Verify(cmd.Context(), ref, pub, rem, attest.VerifyOptions{BuilderID: builderID, SBOMOptional: o.noSBOM})
	if o.output == outJSON {
		if err := printJSON(cmd.OutOrStdout(), rep); err != nil {
			return err
		}
	} else if rep != nil {
		fmt.Fprintln(cmd.OutOrStdout(), strings.Join(rep.Summary(), "\n"))
	}
	if verr != nil {
		return fmt.Errorf("verification failed: %w", verr)
	}
	return nil
}

// identity returns the key and builder id to verify against: flags first,
// else the server's.
func (o *verifyOptions) identity(ctx context.Context, c *client.Client) (any, string, error) {
	var info builderInfo
	if o.keyFile == "" || o.builderID == "" {
		var err error
		if info, err = fetchBuilder(ctx, c); err != nil {
			return nil, "", err
		}
	}
	pemData := []byte(info.PublicKey)
	if o.keyFile != "" {
		var err error
		if pemData, err = os.ReadFile(o.keyFile); err != nil {
			return nil, "", fmt.Errorf("--key: %w", err)
		}
	}
	pub, err := attest.ParsePublicKeyPEM(pemData)
	if err != nil {
		return nil, "", fmt.Errorf("public key: %w", err)
	}
	id := o.builderID
	if id == "" {
		id = info.BuilderID
	}
	return pub, id, nil
}

// findArtifact turns a bare digest into REPO@DIGEST using the namespace's
// builds.
func findArtifact(cmd *cobra.Command, c *client.Client, ns, digest string) (string, error) {
	res, err := c.ResolveResource(cmd.Context(), "builds")
	if err != nil {
		return "", err
	}
	list, err := c.List(cmd.Context(), res, ns, client.ListOptions{Limit: 500})
	if err != nil {
		return "", err
	}
	for _, b := range list.Items {
		if b.String("status", "artifact", "digest") == digest {
			return b.String("status", "artifact", "repository") + "@" + digest, nil
		}
	}
	return "", fmt.Errorf("no build in namespace %q produced %s: pass the full reference REGISTRY/NS/COMPONENT@%s, or -n NAMESPACE", ns, digest, digest)
}

// registryRemote authenticates to Kiln's embedded registry with the
// client's token and CA; other registries are read anonymously.
func registryRemote(cfg client.Config, ref string) (oci.Remote, error) {
	rem := oci.Remote{}
	u, err := url.Parse(cfg.Server)
	if err != nil {
		return rem, fmt.Errorf("server URL %q: %w", cfg.Server, err)
	}
	pem, err := cfg.CAPEM()
	if err != nil {
		return rem, err
	}
	if len(pem) > 0 {
		pool, perr := x509.SystemCertPool()
		if perr != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return rem, errors.New("the configured server CA holds no PEM certificate")
		}
		rem.RootCAs = pool
	}
	if strings.HasPrefix(ref, u.Host+"/") {
		rem.Token = cfg.Token
	}
	return rem, nil
}

// extra describes a build's provenance, read from the server.
func (o *describeOptions) extra(cmd *cobra.Command, c *client.Client, res client.Resource, obj client.Object) func(io.Writer) {
	if obj.Kind() == "Release" && obj.Map("status", "policy") != nil {
		return func(w io.Writer) {
			if v, err := verdictOf(obj); err == nil {
				describeVerdict(w, v)
			}
		}
	}
	if obj.Kind() != "Build" || obj.Map("status", "evidence") == nil {
		return nil
	}
	return func(w io.Writer) {
		data, err := c.Do(cmd.Context(), http.MethodGet, res.Path(obj.Namespace(), obj.Name(), "provenance"), nil, nil)
		if err != nil {
			fmt.Fprintf(w, "Provenance:\t<unavailable: %v>\n", err)
			return
		}
		describeProvenance(w, data)
	}
}

// describeProvenance prints the SLSA provenance in a few lines.
func describeProvenance(w io.Writer, data []byte) {
	var st struct {
		PredicateType string `json:"predicateType"`
		Predicate     struct {
			BuildDefinition struct {
				BuildType            string `json:"buildType"`
				ResolvedDependencies []struct {
					Name   string            `json:"name"`
					URI    string            `json:"uri"`
					Digest map[string]string `json:"digest"`
				} `json:"resolvedDependencies"`
			} `json:"buildDefinition"`
			RunDetails struct {
				Builder struct {
					ID string `json:"id"`
				} `json:"builder"`
				Metadata struct {
					InvocationID string `json:"invocationId"`
				} `json:"metadata"`
			} `json:"runDetails"`
		} `json:"predicate"`
	}
	if err := decodeJSON(data, &st); err != nil {
		fmt.Fprintf(w, "Provenance:\t<unreadable: %v>\n", err)
		return
	}
	tw := newTabWriter(w)
	fmt.Fprintf(tw, "Provenance:\t%s\n", st.PredicateType)
	fmt.Fprintf(tw, "  Builder:\t%s\n", st.Predicate.RunDetails.Builder.ID)
	fmt.Fprintf(tw, "  Build type:\t%s\n", st.Predicate.BuildDefinition.BuildType)
	fmt.Fprintf(tw, "  Invocation:\t%s\n", st.Predicate.RunDetails.Metadata.InvocationID)
	fmt.Fprintf(tw, "  Resolved dependencies:\t%d\n", len(st.Predicate.BuildDefinition.ResolvedDependencies))
	for _, d := range st.Predicate.BuildDefinition.ResolvedDependencies {
		label := d.URI
		if label == "" {
			label = d.Name
		}
		var ds []string
		for _, k := range sortedKeys(d.Digest) {
			ds = append(ds, k+":"+shortDigest(d.Digest[k]))
		}
		fmt.Fprintf(tw, "    %s\t%s\n", label, strings.Join(ds, " "))
	}
	tw.Flush()
}

func shortDigest(d string) string {
	if len(d) > 16 {
		return d[:16] + "…"
	}
	return d
}
