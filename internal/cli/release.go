package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/client"
	"github.com/kilnbuild/kiln/internal/policy"
)

func newReleaseCommand(g *globals) *cobra.Command {
	var plan string
	cmd := &cobra.Command{
		Use:   "release SNAPSHOT --plan PLAN",
		Short: "Release a snapshot through a release plan, or read a release's policy verdict",
		Example: `  kiln release greet-build-7 --plan to-prod
  kiln release verdict greet-build-7-to-prod --junit > verdict.xml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if plan == "" {
				return fmt.Errorf("--plan is required: the ReleasePlan to release %s through (kiln get releaseplans)", args[0])
			}
			c, res, err := g.resource(cmd, "releases")
			if err != nil {
				return err
			}
			name := fmt.Sprintf("%s-%s-%s", args[0], plan, strconv.FormatInt(time.Now().Unix(), 36))
			obj := client.Object{"apiVersion": v1alpha1.Group + "/" + v1alpha1.Version, "kind": "Release",
				"metadata": map[string]any{"name": name},
				"spec":     map[string]any{"snapshot": args[0], "releasePlan": plan}}
			if _, err := c.Create(cmd.Context(), res, g.ns(), obj); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "release.kiln.dev/%s created (kiln get release %s -w)\n", name, name)
			return nil
		},
	}
	cmd.Flags().StringVar(&plan, "plan", "", "the ReleasePlan (required)")
	cmd.AddCommand(newVerdictCommand(g))
	return cmd
}

func newVerdictCommand(g *globals) *cobra.Command {
	var junit bool
	var output string
	cmd := &cobra.Command{
		Use:   "verdict RELEASE",
		Short: "Print a release's policy verdict (table, -o json, or --junit)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, res, err := g.resource(cmd, "releases")
			if err != nil {
				return err
			}
			obj, err := c.Get(cmd.Context(), res, g.ns(), args[0])
			if err != nil {
				return err
			}
			v, err := verdictOf(obj)
			if err != nil {
				return err
			}
			return printVerdict(cmd.OutOrStdout(), v, junit, output)
		},
	}
	cmd.Flags().BoolVar(&junit, "junit", false, "JUnit XML, one test case per rule and component")
	cmd.Flags().StringVarP(&output, "output", "o", "", "json for machines")
	return cmd
}

func verdictOf(obj client.Object) (*v1alpha1.PolicyVerdict, error) {
	raw := obj.Map("status", "policy")
	if raw == nil {
		return nil, fmt.Errorf("release %s has no policy verdict yet (phase %q): the policy runs after validation and the tenant pipeline", obj.Name(), obj.String("status", "phase"))
	}
	b, _ := json.Marshal(raw)
	var v v1alpha1.PolicyVerdict
	return &v, json.Unmarshal(b, &v)
}

func printVerdict(w io.Writer, v *v1alpha1.PolicyVerdict, junit bool, output string) error {
	switch {
	case junit:
		b, err := toPolicyVerdict(v).JUnit()
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	case output == "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	case output != "":
		return fmt.Errorf("-o %s: use json, or --junit", output)
	}
	describeVerdict(w, v)
	return nil
}

// toPolicyVerdict rebuilds the engine's verdict from the stored summary
// (successes are counted, not named).
func toPolicyVerdict(v *v1alpha1.PolicyVerdict) policy.Verdict {
	out := policy.Verdict{Success: v.Passed, Policy: policy.PolicyRef{Name: v.Policy, Digest: v.Digest}}
	if v.EvaluatedTime != nil {
		out.EvaluatedAt = v.EvaluatedTime.Time
	}
	for _, c := range v.Components {
		cr := policy.ComponentResult{Name: c.Name, Image: c.ContainerImage}
		for _, r := range c.Violations {
			cr.Violations = append(cr.Violations, policy.Result{Code: r.Code, Msg: r.Message, EffectiveOn: r.EffectiveOn})
		}
		for _, r := range c.Warnings {
			cr.Warnings = append(cr.Warnings, policy.Result{Code: r.Code, Msg: r.Message, EffectiveOn: r.EffectiveOn})
		}
		for i := 0; i < c.Successes; i++ {
			cr.Successes = append(cr.Successes, policy.Result{Code: fmt.Sprintf("passed.%d", i+1), Msg: "Pass"})
		}
		out.Components = append(out.Components, cr)
	}
	return out
}

// describeVerdict prints the verdict for people.
func describeVerdict(w io.Writer, v *v1alpha1.PolicyVerdict) {
	outcome := "passed"
	if !v.Passed {
		outcome = "FAILED"
	}
	fmt.Fprintf(w, "Policy:\t%s %s (%d violations, %d warnings, %d rules passed)\n", v.Policy, outcome, v.Violations, v.Warnings, v.Successes)
	for _, c := range v.Components {
		fmt.Fprintf(w, "  %s\t%s\n", c.Name, c.ContainerImage)
		for _, r := range c.Violations {
			fmt.Fprintf(w, "    ✗ %s: %s\n", r.Code, r.Message)
		}
		for _, r := range c.Warnings {
			fmt.Fprintf(w, "    ! %s: %s\n", r.Code, r.Message)
		}
	}
}

func newTestCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "test", Short: "Integration tests of snapshots"}
	var failed bool
	rerun := &cobra.Command{
		Use:   "rerun SNAPSHOT [SCENARIO]",
		Short: "Run a snapshot's scenarios again: one, the failed ones (--failed), or all; what passed is not re-run",
		Example: `  kiln test rerun greet-build-7 smoke
  kiln test rerun greet-build-7 --failed`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			what := "all"
			switch {
			case len(args) == 2 && failed:
				return fmt.Errorf("give a SCENARIO or --failed, not both")
			case len(args) == 2:
				what = args[1]
			case failed:
				what = "failed"
			}
			c, res, err := g.resource(cmd, "snapshots")
			if err != nil {
				return err
			}
			if len(args) == 2 {
				if err := checkScenario(cmd, g, c, res, args[0], what); err != nil {
					return err
				}
			}
			patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"labels": map[string]string{v1alpha1.LabelTestRun: what}}})
			if _, err := c.Patch(cmd.Context(), res, g.ns(), args[0], "application/merge-patch+json", patch); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "snapshot.kiln.dev/%s: re-run of %s requested (kiln get snapshot %s -o yaml)\n", args[0], what, args[0])
			return nil
		},
	}
	rerun.Flags().BoolVar(&failed, "failed", false, "only the scenarios that failed or errored")
	cmd.AddCommand(rerun)
	return cmd
}

// checkScenario refuses a scenario that neither ran on the snapshot nor
// belongs to its application (Kiln would ignore the request).
func checkScenario(cmd *cobra.Command, g *globals, c *client.Client, res client.Resource, snapshot, scenario string) error {
	snap, err := c.Get(cmd.Context(), res, g.ns(), snapshot)
	if err != nil {
		return err
	}
	known := map[string]bool{}
	for _, t := range snap.Slice("status", "tests") {
		if m, ok := t.(map[string]any); ok {
			known[fmt.Sprint(m["scenario"])] = true
		}
	}
	itsRes, err := c.ResolveResource(cmd.Context(), "integrationtestscenarios")
	if err != nil {
		return err
	}
	list, err := c.List(cmd.Context(), itsRes, g.ns(), client.ListOptions{FieldSelector: "spec.application=" + snap.String("spec", "application")})
	if err != nil {
		return err
	}
	for _, its := range list.Items {
		known[its.Name()] = true
	}
	if known[scenario] {
		return nil
	}
	names := make([]string, 0, len(known))
	for n := range known {
		names = append(names, n)
	}
	sort.Strings(names)
	return fmt.Errorf("snapshot %s has no scenario %q (its scenarios: %s); use a name, --failed, or no argument for all", snapshot, scenario, strings.Join(names, ", "))
}

// resource returns the client and a resource by plural name.
func (g *globals) resource(cmd *cobra.Command, plural string) (*client.Client, client.Resource, error) {
	c, err := g.client(cmd)
	if err != nil {
		return nil, client.Resource{}, err
	}
	res, err := c.ResolveResource(cmd.Context(), plural)
	return c, res, err
}
