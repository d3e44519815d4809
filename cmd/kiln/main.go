// Command kiln is the Kiln software factory: server (`kiln up`) and client
// (apply, get, describe, …) in one binary.
package main

import (
	"fmt"
	"os"

	"github.com/kilnbuild/kiln/internal/cli"
)

func main() {
	root := cli.NewRootCommand()
	root.AddCommand(newUpCommand(), newBenchCommand())
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}
