package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/client"
)

type applyOptions struct {
	g         *globals
	files     []string
	recursive bool
}

func newApplyCommand(g *globals) *cobra.Command {
	o := &applyOptions{g: g}
	cmd := &cobra.Command{
		Use:   "apply -f FILE|DIR|- [-f ...] [-R]",
		Short: "Create or update objects from YAML or JSON files",
		Long: "Create objects that do not exist and update those that differ from the files.\n\n" +
			"Files may hold several documents (---) and `kind: List`. Objects are applied in dependency\n" +
			"order (Namespace, User, ServiceAccount, RoleBinding, Secret, Policy, Application, Component,\n" +
			"IntegrationTestScenario, ReleasePlan, ReleasePlanAdmission, Snapshot, Release). An object that\n" +
			"already matches the file is left alone (`unchanged`). Konflux manifests\n" +
			"(appstudio.redhat.com/v1alpha1) apply as they are.",
		Example: "  kiln apply -f app.yaml\n  kiln apply -f deploy/ -R\n  cat app.yaml | kiln apply -f -",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd)
		},
	}
	cmd.Flags().StringArrayVarP(&o.files, "filename", "f", nil, "file, directory or - (stdin) to apply; repeatable")
	cmd.Flags().BoolVarP(&o.recursive, "recursive", "R", false, "read directories recursively")
	_ = cmd.MarkFlagRequired("filename")
	return cmd
}

func (o *applyOptions) run(cmd *cobra.Command) error {
	c, err := o.g.client(cmd)
	if err != nil {
		return err
	}
	ms, errs := readManifests(o.files, o.recursive, cmd.InOrStdin())
	for _, e := range errs {
		PrintError(cmd.ErrOrStderr(), e)
	}
	if len(ms) == 0 && len(errs) == 0 {
		return fmt.Errorf("no objects found in %v", o.files)
	}
	sortForApply(ms)
	failed := len(errs)
	for _, m := range ms {
		if err := o.applyOne(cmd.Context(), c, m, cmd.OutOrStdout()); err != nil {
			PrintError(cmd.ErrOrStderr(), fmt.Errorf("%s (%s): %w", m.where(), m.describe(), err))
			failed++
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d objects failed to apply (see the errors above)", failed, len(ms)+len(errs))
	}
	return nil
}

// applyOne creates the object, or patches it when it differs from the live
// one, and prints what happened.
func (o *applyOptions) applyOne(ctx context.Context, c *client.Client, m manifest, out io.Writer) error {
	obj := m.obj.DeepCopy()
	res, err := resolveManifest(ctx, c, obj)
	if err != nil {
		return err
	}
	ns, err := objectNamespace(o.g, res, obj)
	if err != nil {
		return err
	}
	name := obj.Name()
	if name == "" {
		return errors.New("metadata.name is required")
	}
	cleanForApply(obj)
	live, err := c.Get(ctx, res, ns, name)
	if client.IsNotFound(err) {
		if _, err := c.Create(ctx, res, ns, obj); err != nil {
			return err
		}
		fmt.Fprintf(out, "%s created\n", res.KindName(name))
		return nil
	}
	if err != nil {
		return err
	}
	verb, err := patchIfChanged(ctx, c, res, ns, obj, live)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s %s\n", res.KindName(name), verb)
	return nil
}

// patchIfChanged sends the manifest as a merge patch unless the live object
// already matches it; it returns "unchanged" or "configured". When the
// server finds nothing to change (e.g. Secret values it does not return)
// the resourceVersion stays and the object is reported unchanged.
func patchIfChanged(ctx context.Context, c *client.Client, res client.Resource, ns string, obj, live client.Object) (string, error) {
	if unchanged(obj, live) {
		return "unchanged", nil
	}
	patch, err := json.Marshal(obj)
	if err != nil {
		return "", err
	}
	got, err := c.Patch(ctx, res, ns, obj.Name(), client.ContentTypeMergePatch, patch)
	if err != nil {
		return "", err
	}
	if got.ResourceVersion() != "" && got.ResourceVersion() == live.ResourceVersion() {
		return "unchanged", nil
	}
	return "configured", nil
}

// resolveManifest maps the manifest's apiVersion and kind to a served
// resource, rewriting those of compatible systems (Konflux) to Kiln's.
func resolveManifest(ctx context.Context, c *client.Client, obj client.Object) (client.Resource, error) {
	if k, ok := v1alpha1.ForAPIVersionKind(obj.APIVersion(), obj.Kind()); ok {
		obj.SetAPIVersion(k.APIVersion())
		obj["kind"] = k.Kind
	}
	res, err := c.ResourceFor(ctx, obj.APIVersion(), obj.Kind())
	if err != nil {
		return client.Resource{}, err
	}
	obj.SetAPIVersion(res.GroupVersion())
	return res, nil
}

// objectNamespace settles the object's namespace: its own, else -n or the
// config's. A namespace given with -n must agree with the object's.
func objectNamespace(g *globals, res client.Resource, obj client.Object) (string, error) {
	if !res.Namespaced {
		delete(obj.Map("metadata"), "namespace")
		return "", nil
	}
	ns := obj.Namespace()
	switch {
	case ns == "":
		ns = g.ns()
		obj.SetNamespace(ns)
	case g.namespace != "" && g.namespace != ns:
		return "", fmt.Errorf("the object's namespace %q does not match --namespace %q: remove one of them", ns, g.namespace)
	}
	return ns, nil
}

// ApplyFiles applies the manifest files or directories at paths as
// `kiln --config CONFIG apply -R -f PATH...` does, printing to out and
// errOut: `kiln up --apply` and the demo use it on the new factory.
func ApplyFiles(ctx context.Context, config string, paths []string, out, errOut io.Writer) error {
	args := []string{"--config", config, "apply", "-R"}
	for _, p := range paths {
		args = append(args, "-f", p)
	}
	root := NewRootCommand()
	root.SetArgs(args)
	root.SetOut(out)
	root.SetErr(errOut)
	return root.ExecuteContext(ctx)
}
