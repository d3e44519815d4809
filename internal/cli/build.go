package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/kilnbuild/kiln/internal/client"
)

func newBuildCommand(g *globals) *cobra.Command {
	var (
		revision string
		noCache  bool
		wait     bool
		follow   bool
		group    bool
		app      string
		params   []string
		pr       int
	)
	cmd := &cobra.Command{
		Use:   "build COMPONENT... | --app A [--revision REF [--pull-request N]] [--wait | -f]",
		Short: "Build components by hand; several (or --app, or --group) build as one group in dependency order",
		Long: "Start a build of a component: the head of its branch, or --revision (a commit,\n" +
			"branch or tag), against the current artifacts of what it requires. The build is\n" +
			"recorded as manual, by you. With --wait the command waits for the build to finish\n" +
			"and exits non-zero if it failed; -f streams its log.\n\n" +
			"With several components, --app or --group, Kiln creates one BuildGroup: the\n" +
			"components and everything depending on them, built in dependency order as soon as\n" +
			"each one's requirements are ready. Watch it with `kiln get buildgroup NAME -w`.\n\n" +
			"With --pull-request N the build is pull request N's, at --revision (its head\n" +
			"commit), as a webhook would create it: it does not change the component's\n" +
			"latest artifact, and its Snapshot does not touch the candidate list and is never\n" +
			"released.",
		Example: "  kiln build libgreet -n team-greet\n  kiln build libgreet --revision v1.2.0 -f\n" +
			"  kiln build libgreet greet-cli --wait\n  kiln build --app greet\n" +
			"  kiln build libgreet --revision 9f3e2d1c0b4a59687766554433221100ffeeddcc --pull-request 42",
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 && app == "" {
				return fmt.Errorf("name a component to build, or --app APPLICATION")
			}
			if err := checkPullRequest(cmd, pr, revision, len(args) > 1 || app != "" || group); err != nil {
				return err
			}
			if len(args) > 1 || app != "" || group {
				return startGroup(cmd, g, args, app, noCache, wait)
			}
			c, res, err := g.builds(cmd)
			if err != nil {
				return err
			}
			obj := buildObject(args[0], revision, noCache, params, whoami(cmd.Context(), c))
			if pr > 0 {
				asPullRequest(obj, pr, revision)
			}
			if err := addInputs(cmd, g, obj, args[0]); err != nil {
				return err
			}
			b, err := c.Create(cmd.Context(), res, g.ns(), obj)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s created\n", res.KindName(b.Name()))
			switch {
			case follow:
				return followBuild(cmd, c, res, g.ns(), b.Name())
			case wait:
				return waitBuild(cmd, c, res, g.ns(), b.Name())
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&revision, "revision", "", "commit, branch or tag (default: the component's branch head)")
	f.BoolVar(&noCache, "no-cache", false, "run even if an earlier build had identical inputs")
	f.BoolVar(&wait, "wait", false, "wait for the build to finish")
	f.BoolVarP(&follow, "follow", "f", false, "stream the build's log until it finishes")
	f.StringArrayVarP(&params, "param", "p", nil, "pipeline parameter NAME=VALUE (repeatable)")
	f.BoolVar(&group, "group", false, "build as a group: the component and everything depending on it")
	f.StringVar(&app, "app", "", "build every component of the application, as one group")
	f.IntVar(&pr, "pull-request", 0, "build --revision as the head of pull request N (not the component's new state)")
	return cmd
}

// checkPullRequest refuses --pull-request where it cannot apply.
func checkPullRequest(cmd *cobra.Command, pr int, revision string, group bool) error {
	if !cmd.Flags().Changed("pull-request") {
		return nil
	}
	switch {
	case pr <= 0:
		return fmt.Errorf("--pull-request takes the pull request's number (1 or more), got %d", pr)
	case revision == "":
		return fmt.Errorf("--pull-request needs --revision: the pull request's head commit")
	case group:
		return fmt.Errorf("--pull-request builds one component: name exactly one, without --app or --group")
	}
	return nil
}

// asPullRequest makes obj pull request pr's build, as the webhook does.
func asPullRequest(obj client.Object, pr int, revision string) {
	meta := obj["metadata"].(map[string]any)
	meta["labels"] = map[string]any{"pac.test.appstudio.openshift.io/event-type": "pull_request",
		"pac.test.appstudio.openshift.io/pull-request": strconv.Itoa(pr)}
	reason := obj["spec"].(map[string]any)["reason"].(map[string]any)
	short := revision
	if len(short) > 7 {
		short = short[:7]
	}
	reason["type"], reason["message"] = "pull-request", fmt.Sprintf("pull request #%d at %s, by hand", pr, short)
}

func buildObject(component, revision string, noCache bool, params []string, by string) client.Object {
	spec := map[string]any{"component": component, "reason": map[string]any{"type": "manual", "by": by}}
	if revision != "" {
		spec["revision"] = revision
	}
	if noCache {
		spec["noCache"] = true
	}
	var ps []any
	for _, p := range params {
		name, value, _ := cutEq(p)
		ps = append(ps, map[string]any{"name": name, "value": value})
	}
	if len(ps) > 0 {
		spec["params"] = ps
	}
	return client.Object{"apiVersion": "kiln.dev/v1alpha1", "kind": "Build",
		"metadata": map[string]any{"generateName": component + "-"}, "spec": spec}
}

func cutEq(s string) (string, string, bool) {
	for i := range s {
		if s[i] == '=' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// whoami names the caller for the build's reason; best effort.
func whoami(ctx context.Context, c *client.Client) string {
	data, err := c.Do(ctx, "GET", "/apis/kiln.dev/v1alpha1/whoami", nil, nil)
	if err != nil {
		return ""
	}
	var w struct {
		User string `json:"user"`
	}
	_ = json.Unmarshal(data, &w)
	return w.User
}

// waitBuild polls the build until it finishes, with a spinner on a TTY.
func waitBuild(cmd *cobra.Command, c *client.Client, res client.Resource, ns, name string) error {
	var once sync.Once
	spin := startSpinner(cmd.ErrOrStderr(), "waiting for build "+name)
	stop := func() { once.Do(spin) }
	defer stop()
	for {
		b, err := c.Get(cmd.Context(), res, ns, name)
		if err != nil {
			return err
		}
		switch phase := b.String("status", "phase"); phase {
		case "Succeeded":
			stop()
			fmt.Fprintf(cmd.OutOrStdout(), "build %s succeeded: %s\n", name, b.String("status", "artifact", "digest"))
			return nil
		case "Failed", "Cancelled":
			stop()
			return fmt.Errorf("build %s %s: %s (see `kiln logs %s -n %s`)", name, phase, b.String("status", "message"), name, ns)
		}
		select {
		case <-cmd.Context().Done():
			return cmd.Context().Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
}

func followBuild(cmd *cobra.Command, c *client.Client, res client.Resource, ns, name string) error {
	if err := streamLog(cmd.Context(), c, res, ns, name, true, "", cmd.OutOrStdout()); err != nil {
		return err
	}
	return waitBuild(cmd, c, res, ns, name)
}

func streamLog(ctx context.Context, c *client.Client, res client.Resource, ns, name string, follow bool, scenario string, w io.Writer) error {
	q := url.Values{}
	if follow {
		q.Set("follow", "true")
	}
	if scenario != "" {
		q.Set("scenario", scenario)
	}
	path := res.Path(ns, name, "log")
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	body, err := c.Stream(ctx, path)
	if err != nil {
		return err
	}
	defer body.Close()
	_, err = io.Copy(w, body)
	return err
}

func newLogsCommand(g *globals) *cobra.Command {
	var follow bool
	var scenario string
	cmd := &cobra.Command{
		Use:   "logs BUILD | release/NAME | snapshot/NAME --scenario S [-f]",
		Short: "Print a build's log (-f follows it until the build ends), a release's, or one integration test's",
		Example: `  kiln logs libgreet-x7k2p -n team-greet
  kiln logs libgreet-x7k2p -f
  kiln logs release/greet-hello-7-to-prod
  kiln logs snapshot/greet-hello-7 --scenario smoke`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			kind, name, found := strings.Cut(args[0], "/")
			if !found {
				kind, name = "builds", args[0]
			}
			c, err := g.client(cmd)
			if err != nil {
				return err
			}
			res, err := c.ResolveResource(cmd.Context(), kind)
			if err != nil {
				return err
			}
			switch {
			case res.Kind == "Snapshot" && scenario == "":
				return fmt.Errorf("a snapshot has one log per scenario: add --scenario NAME (kiln get snapshot %s -o yaml lists them)", name)
			case res.Kind != "Snapshot" && scenario != "":
				return fmt.Errorf("--scenario is for snapshot logs")
			}
			return streamLog(cmd.Context(), c, res, g.ns(), name, follow, scenario, cmd.OutOrStdout())
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "stream new output until the build finishes")
	cmd.Flags().StringVar(&scenario, "scenario", "", "the integration test scenario, for a snapshot's log")
	return cmd
}

func newCancelCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "cancel BUILD",
		Short:   "Cancel a queued or running build",
		Example: "  kiln cancel libgreet-x7k2p -n team-greet",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, res, err := g.builds(cmd)
			if err != nil {
				return err
			}
			if _, err := c.Patch(cmd.Context(), res, g.ns(), args[0], "application/merge-patch+json", []byte(`{"spec":{"cancel":true}}`)); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s cancel requested\n", res.KindName(args[0]))
			return nil
		},
	}
}

// builds returns the client and the builds resource.
func (g *globals) builds(cmd *cobra.Command) (*client.Client, client.Resource, error) {
	c, err := g.client(cmd)
	if err != nil {
		return nil, client.Resource{}, err
	}
	res, err := c.ResolveResource(cmd.Context(), "builds")
	return c, res, err
}
