package pipelinerun

import (
	"github.com/kilnbuild/kiln/internal/git"
	"github.com/kilnbuild/kiln/internal/oci"
	"github.com/kilnbuild/kiln/internal/sandbox"
)

// Runner runs the pipelines of every namespace on this server, builds'
// steps included (the build executor runs them through it).
type Runner struct {
	// Git fetches pipelines named by git resolver references.
	Git *git.Cache
	// Sandbox runs steps; when nil, SandboxErr says why nothing can run.
	Sandbox    sandbox.Runner
	SandboxErr error
	// WorkDir holds one directory per run in progress
	// (runs/<namespace>/<run>), removed afterwards.
	WorkDir string
	// Registry is where artifacts are pushed (host[:port][/prefix]): the
	// embedded registry, or an external one; Remote has its credentials.
	Registry string
	Remote   oci.Remote
	// Embedded is the embedded registry (host:port) and the system
	// credentials to read step images from it; empty when Registry is it.
	Embedded       string
	EmbeddedRemote oci.Remote
	// ImageCache holds unpacked step images: <namespace>/<digest>.
	ImageCache string
	// CheckURL rejects repositories the server may not read.
	CheckURL func(string) error
	// Limits bound every step (zero: the sandbox's defaults).
	Limits sandbox.Limits
	// active is the work in progress per namespace.
	active activity
}
