// Command kiln is the Kiln software factory: server (`kiln up`) and client
// (apply, get, describe, run, …) in one binary. The commands live in their
// packages; main only puts them together.
package main

import (
	"os"

	"github.com/kilnbuild/kiln/internal/bench"
	"github.com/kilnbuild/kiln/internal/cli"
	"github.com/kilnbuild/kiln/internal/up"
	"github.com/kilnbuild/kiln/internal/worker"
)

// version is the client version; set it at build time with
// -ldflags "-X main.version=v1.2.3". Empty: the module version from the
// build info.
var version string

func main() {
	root := cli.NewRootCommand(cli.WithVersion(version))
	root.AddCommand(up.NewCommand(), bench.NewCommand(), worker.NewCommand())
	os.Exit(cli.Execute(root))
}
