package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kilnbuild/kiln/internal/client"
)

type deleteOptions struct {
	g              *globals
	files          []string
	recursive      bool
	selector       string
	all            bool
	ignoreNotFound bool
	wait           bool
	timeout        time.Duration
	cascade        string
}

// deletion is one object to delete.
type deletion struct {
	res  client.Resource
	ns   string
	name string
}

func (d deletion) String() string { return fmt.Sprintf("%s %q", d.res.KindGroup(), d.name) }

func newDeleteCommand(g *globals) *cobra.Command {
	o := &deleteOptions{g: g}
	cmd := &cobra.Command{
		Use:   "delete TYPE NAME... | TYPE/NAME... | TYPE -l SELECTOR | TYPE --all | -f FILE",
		Short: "Delete objects by name, selector or file",
		Long: "Delete objects. Objects read from files are deleted in the reverse of apply order.\n" +
			"Objects with finalizers disappear once Kiln has cleaned up after them; --wait waits for that.",
		Example: "  kiln delete component web\n  kiln delete -f app.yaml --wait\n  kiln delete components -l app=shop",
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, args)
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.files, "filename", "f", nil, "file, directory or - (stdin) naming objects to delete; repeatable")
	f.BoolVarP(&o.recursive, "recursive", "R", false, "read directories recursively")
	f.StringVarP(&o.selector, "selector", "l", "", "delete the objects of TYPE matching this label selector")
	f.BoolVar(&o.all, "all", false, "delete every object of TYPE in the namespace")
	f.BoolVar(&o.ignoreNotFound, "ignore-not-found", false, "succeed when an object does not exist")
	f.BoolVar(&o.wait, "wait", false, "wait until the objects are gone (finalizers done)")
	f.DurationVar(&o.timeout, "timeout", 5*time.Minute, "how long --wait waits")
	f.StringVar(&o.cascade, "cascade", "background", "what happens to dependents: background, foreground or orphan")
	return cmd
}

func (o *deleteOptions) run(cmd *cobra.Command, args []string) error {
	policy, err := propagation(o.cascade)
	if err != nil {
		return err
	}
	c, err := o.g.client(cmd)
	if err != nil {
		return err
	}
	dels, errs := o.targets(cmd, c, args)
	var deleted []deletion
	for _, d := range dels {
		err := c.Delete(cmd.Context(), d.res, d.ns, d.name, &metav1.DeleteOptions{PropagationPolicy: &policy})
		switch {
		case err == nil:
			fmt.Fprintf(cmd.OutOrStdout(), "%s deleted\n", d)
			deleted = append(deleted, d)
		case client.IsNotFound(err) && o.ignoreNotFound:
		default:
			errs = append(errs, err)
		}
	}
	if o.wait && len(deleted) > 0 {
		if err := o.waitGone(cmd.Context(), c, deleted, cmd.ErrOrStderr()); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func propagation(cascade string) (metav1.DeletionPropagation, error) {
	switch cascade {
	case "background", "":
		return metav1.DeletePropagationBackground, nil
	case "foreground":
		return metav1.DeletePropagationForeground, nil
	case "orphan":
		return metav1.DeletePropagationOrphan, nil
	}
	return "", fmt.Errorf("--cascade %q: use background, foreground or orphan", cascade)
}

// targets lists what to delete from files, or from the arguments.
func (o *deleteOptions) targets(cmd *cobra.Command, c *client.Client, args []string) ([]deletion, []error) {
	if len(o.files) > 0 {
		if len(args) > 0 {
			return nil, []error{errors.New("give either -f or TYPE and NAMEs, not both")}
		}
		return o.fileTargets(cmd, c)
	}
	targets, err := parseTargets(cmd.Context(), c, args)
	if err != nil {
		return nil, []error{err}
	}
	var dels []deletion
	var errs []error
	for _, t := range targets {
		d, err := o.expand(cmd.Context(), c, t)
		dels = append(dels, d...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return dels, errs
}

// expand turns a target into deletions: its names, or the objects matching
// -l / --all.
func (o *deleteOptions) expand(ctx context.Context, c *client.Client, t target) ([]deletion, error) {
	ns := namespaceOf(o.g, t.res, false)
	var dels []deletion
	for _, name := range t.names {
		dels = append(dels, deletion{res: t.res, ns: ns, name: name})
	}
	switch {
	case len(t.names) > 0 && (o.selector != "" || o.all):
		return nil, errors.New("give NAMEs or a selector (-l / --all), not both")
	case len(t.names) > 0:
		return dels, nil
	case o.selector == "" && !o.all:
		return nil, fmt.Errorf("name the %s to delete, or select them with -l SELECTOR or --all", t.res.Name)
	}
	list, err := c.List(ctx, t.res, ns, client.ListOptions{LabelSelector: o.selector})
	if err != nil {
		return nil, err
	}
	for _, it := range list.Items {
		dels = append(dels, deletion{res: t.res, ns: it.Namespace(), name: it.Name()})
	}
	return dels, nil
}

func (o *deleteOptions) fileTargets(cmd *cobra.Command, c *client.Client) ([]deletion, []error) {
	ms, errs := readManifests(o.files, o.recursive, cmd.InOrStdin())
	sortForApply(ms)
	slices.Reverse(ms)
	var dels []deletion
	for _, m := range ms {
		obj := m.obj.DeepCopy()
		res, err := resolveManifest(cmd.Context(), c, obj)
		var ns string
		if err == nil {
			ns, err = objectNamespace(o.g, res, obj)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s (%s): %w", m.where(), m.describe(), err))
			continue
		}
		dels = append(dels, deletion{res: res, ns: ns, name: obj.Name()})
	}
	return dels, errs
}

// waitGone polls until every deleted object is gone or the timeout passes.
func (o *deleteOptions) waitGone(ctx context.Context, c *client.Client, dels []deletion, progress io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	for _, d := range dels {
		stop := startSpinner(progress, fmt.Sprintf("waiting for %s to be deleted", d))
		err := waitOne(ctx, c, d, o.g.opts.pollInterval)
		stop()
		if err != nil {
			return err
		}
	}
	return nil
}

func waitOne(ctx context.Context, c *client.Client, d deletion, interval time.Duration) error {
	for {
		_, err := c.Get(ctx, d.res, d.ns, d.name)
		if client.IsNotFound(err) {
			return nil
		}
		if err != nil && ctx.Err() == nil {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s is still being deleted: gave up waiting (raise --timeout, or see what holds it with `kiln describe %s %s`)", d, d.res.Name, d.name)
		case <-time.After(interval):
		}
	}
}
