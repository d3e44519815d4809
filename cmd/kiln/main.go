// Command kiln is the Kiln software factory: server (`kiln up`) and client
// (apply, get, describe, …) in one binary.
package main

import (
	"os"

	"github.com/kilnbuild/kiln/internal/cli"
)

func main() {
	root := cli.NewRootCommand()
	root.AddCommand(newUpCommand(), newBenchCommand())
	os.Exit(cli.Execute(root))
}
