package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kilnbuild/kiln/internal/client"
	"github.com/kilnbuild/kiln/internal/debimport"
)

// newImportCommand is `kiln import`; its subcommands live in their
// packages (debimport) and apply objects through apiTarget.
func newImportCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "import",
		Short: "Import other systems' sources into git and components (debian)",
	}
	cmd.AddCommand(debimport.NewCommand(apiTarget{g}))
	return cmd
}

// apiTarget applies objects with the CLI's client, as `kiln apply` does.
type apiTarget struct{ g *globals }

func (t apiTarget) Namespace() string {
	_, _ = t.g.config() // the config's namespace, when -n is not given
	return t.g.ns()
}

// Ready checks the server answers and the namespace exists.
func (t apiTarget) Ready(cmd *cobra.Command) error {
	c, err := t.g.client(cmd)
	if err != nil {
		return err
	}
	res, err := c.ResolveResource(cmd.Context(), "namespaces")
	if err != nil {
		return err
	}
	ns := t.Namespace()
	_, err = c.Get(cmd.Context(), res, "", ns)
	if client.IsNotFound(err) {
		return fmt.Errorf("namespace %q does not exist: create it with `kiln create namespace %s` or pass another -n", ns, ns)
	}
	return err
}

func (t apiTarget) Apply(cmd *cobra.Command, objs []client.Object) error {
	c, err := t.g.client(cmd)
	if err != nil {
		return err
	}
	o := &applyOptions{g: t.g}
	for i, obj := range objs {
		m := manifest{source: "kiln import", index: i + 1, obj: obj}
		if err := o.applyOne(cmd.Context(), c, m, cmd.OutOrStdout()); err != nil {
			return fmt.Errorf("%s: %w", m.describe(), err)
		}
	}
	return nil
}
