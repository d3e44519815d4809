// Command kiln is the Kiln software factory: server (`kiln up`) and client
// (apply, get, describe, …) in one binary.
package main

import (
	"os"

	"github.com/kilnbuild/kiln/internal/cli"
	"github.com/kilnbuild/kiln/internal/sandbox"
)

func main() {
	cli.NewRunner = func() (sandbox.Runner, error) { return sandbox.NewBubblewrap(sandbox.Options{}) }
	root := cli.NewRootCommand()
	root.AddCommand(newUpCommand(), newBenchCommand(), cli.NewRunCommand())
	addGraphCommands(root)
	os.Exit(cli.Execute(root))
}
