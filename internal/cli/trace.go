package cli

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kilnbuild/kiln/internal/attest"
	"github.com/kilnbuild/kiln/internal/trace"
)

const tracePath = "/apis/kiln.dev/v1alpha1/trace"

func newTraceCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "trace",
		Short: "Trace what an artifact was made from, or where a source or package ended up",
		Long: "trace walks Kiln's record of every edge — source commit → build → artifact → builds\n" +
			"that consumed it → snapshots → releases → destinations, plus what every SBOM lists —\n" +
			"in either direction. Every edge says where it came from: a verified attestation (with\n" +
			"the key's id), Kiln's own records, or an attestation that did not verify (with why).\n" +
			"A trace never enters a namespace you cannot read: it says how many nodes it cut there.\n" +
			"See docs/trace.md.",
	}
	cmd.AddCommand(newTraceWalkCommand(g, "up"), newTraceWalkCommand(g, "down"),
		newTraceImportCommand(g), newTraceReindexCommand(g))
	return cmd
}

type traceWalkOptions struct {
	output       string
	depth, limit int
}

func newTraceWalkCommand(g *globals, dir string) *cobra.Command {
	o := &traceWalkOptions{}
	use, short, example := "up ARTIFACT|BUILD|SNAPSHOT|RELEASE", "Everything REF was made from, transitively",
		"  kiln trace up build/greet-cli-1a2b3c4d -n team\n"+
			"  kiln trace up release/greet-20261206-1 -o dot | dot -Tsvg > trace.svg\n"+
			"  kiln trace up 127.0.0.1:7070/team/greet@sha256:4f1c… -o json"
	if dir == "down" {
		use, short, example = "down SOURCE[@COMMIT]|ARTIFACT|PURL", "Everything that contains REF or was built with it, transitively",
			"  kiln trace down https://git.example/libfoo.git@0123…4567   # which releases were built against this commit\n"+
				"  kiln trace down 'pkg:golang/golang.org/x/net@<0.23.0'      # where x/net before 0.23.0 ships\n"+
				"  kiln trace down sha256:4f1c… -o table"
	}
	cmd := &cobra.Command{
		Use: use, Short: short, Example: example, Args: cobra.ExactArgs(1),
		Long: short + ".\n\nREF is build/NAME, snapshot/NAME, release/NAME or a bare NAME (in -n's namespace),\n" +
			"REPOSITORY@sha256:…, sha256:…, a git URL[@COMMIT], a full commit, or a purl whose version\n" +
			"may be a range in vers notation (pkg:golang/golang.org/x/net@>=0.1.0|<0.23.0). Content\n" +
			"references are looked up in every namespace you can read.",
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd, g, dir, args[0]) },
	}
	cmd.Flags().StringVarP(&o.output, "output", "o", "tree", "output format: "+strings.Join(trace.Formats, ", "))
	cmd.Flags().IntVar(&o.depth, "depth", 0, "levels to walk (0: no bound)")
	cmd.Flags().IntVar(&o.limit, "limit", trace.DefaultLimit, fmt.Sprintf("nodes to show at most (1–%d)", trace.MaxLimit))
	return cmd
}

func (o *traceWalkOptions) run(cmd *cobra.Command, g *globals, dir, ref string) error {
	if !contains(trace.Formats, o.output) {
		return fmt.Errorf("unknown output format %q: use %s", o.output, strings.Join(trace.Formats, ", "))
	}
	if o.limit < 1 || o.limit > trace.MaxLimit || o.depth < 0 {
		return fmt.Errorf("--limit must be 1–%d and --depth 0 or more", trace.MaxLimit)
	}
	c, err := g.client(cmd)
	if err != nil {
		return err
	}
	q := url.Values{"ref": {ref}, "namespace": {g.ns()}, "limit": {strconv.Itoa(o.limit)}}
	if o.depth > 0 {
		q.Set("depth", strconv.Itoa(o.depth))
	}
	data, err := c.Do(cmd.Context(), http.MethodGet, tracePath+"/"+dir+"?"+q.Encode(), nil, nil)
	if err != nil {
		return err
	}
	var res trace.Result
	if err := decodeJSON(data, &res); err != nil {
		return err
	}
	return trace.Write(cmd.OutOrStdout(), &res, o.output)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

type traceImportOptions struct {
	keyFile, policy, output string
}

func newTraceImportCommand(g *globals) *cobra.Command {
	o := &traceImportOptions{}
	cmd := &cobra.Command{
		Use:   "import REF",
		Short: "Add an artifact built elsewhere to the trace index, with its attestations",
		Long: "import reads the artifact's cosign attestations (REF's .att: SLSA provenance, SPDX or\n" +
			"CycloneDX SBOMs) from its registry and sends them to Kiln, which verifies them against\n" +
			"--key (a PEM public key) or the publicKey of the namespace's Policy --policy and adds\n" +
			"their edges; with neither, or when a signature does not verify, the edges are recorded\n" +
			"as unverified, with the reason. Kiln's registry is read with your token; others anonymously.",
		Example: "  kiln trace import registry.example.com/vendor/libfoo:1.2 --key vendor.pub -n team\n" +
			"  kiln trace import 127.0.0.1:7070/team/tool@sha256:4f1c… --policy release-policy",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd, g, args[0]) },
	}
	cmd.Flags().StringVar(&o.keyFile, "key", "", "PEM public key the attestations must verify with")
	cmd.Flags().StringVar(&o.policy, "policy", "", "a Policy of the namespace whose publicKey verifies them")
	cmd.Flags().StringVarP(&o.output, "output", "o", "", "output format: json")
	return cmd
}

func (o *traceImportOptions) run(cmd *cobra.Command, g *globals, ref string) error {
	c, err := g.client(cmd)
	if err != nil {
		return err
	}
	req := trace.ImportRequest{Namespace: g.ns(), Policy: o.policy}
	if o.keyFile != "" {
		pem, err := os.ReadFile(o.keyFile)
		if err != nil {
			return fmt.Errorf("--key: %w", err)
		}
		req.PublicKey = string(pem)
	}
	rem, err := registryRemote(c.Config(), ref)
	if err != nil {
		return err
	}
	repo, digest, envs, err := attest.FetchEnvelopes(cmd.Context(), ref, rem)
	if err != nil {
		return fmt.Errorf("reading the attestations of %s: %w", ref, err)
	}
	req.Artifact, req.Attestations = repo+"@"+digest, envs
	data, err := c.Do(cmd.Context(), http.MethodPost, tracePath+"/imports", req, nil)
	if err != nil {
		return err
	}
	var res trace.ImportResult
	if err := decodeJSON(data, &res); err != nil {
		return err
	}
	if o.output == outJSON {
		return printJSON(cmd.OutOrStdout(), res)
	}
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "imported %s: %d edges; %d statements verified, %d not\n", res.Artifact, res.Edges, res.Verified, res.Unverified)
	for _, r := range res.Reasons {
		fmt.Fprintf(w, "  unverified %s\n", r)
	}
	return nil
}

func newTraceReindexCommand(g *globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "reindex",
		Short: "Rebuild the trace index from the stored objects and attestations (cluster admins)",
		Long: "reindex derives every record again — builds (their status and the attestations in the\n" +
			"registry, verified again), snapshots, releases and kept imports — replacing what the\n" +
			"index holds, then removes records whose object is gone. The index stays usable meanwhile.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client(cmd)
			if err != nil {
				return err
			}
			c.Timeout = 6 * time.Hour
			data, err := c.Do(cmd.Context(), http.MethodPost, tracePath+"/reindex", struct{}{}, nil)
			if err != nil {
				return err
			}
			var res trace.ReindexResult
			if err := decodeJSON(data, &res); err != nil {
				return err
			}
			if output == outJSON {
				return printJSON(cmd.OutOrStdout(), res)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "reindexed %d builds, %d snapshots, %d releases, %d imports; removed %d stale records\n",
				res.Records["Build"], res.Records["Snapshot"], res.Records["Release"], res.Records["Import"], res.Removed)
			fmt.Fprintf(w, "index: %d nodes, %d edges\n", res.Stats.Nodes, res.Stats.Edges)
			for _, f := range res.Failed {
				fmt.Fprintf(w, "failed: %s\n", f)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: json")
	return cmd
}
