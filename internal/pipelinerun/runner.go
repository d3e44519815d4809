package pipelinerun

import (
	"strings"

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
	// Moved are addresses the embedded registry had before (host:port):
	// references stored then still name them. They are Kiln's, and are
	// read from the embedded registry where it is now.
	Moved []string
	// ImageCache holds unpacked step images: <namespace>/<digest>.
	ImageCache string
	// CheckURL rejects repositories the server may not read.
	CheckURL func(string) error
	// Limits bound every step (zero: the sandbox's defaults).
	Limits sandbox.Limits
	// active is the work in progress per namespace.
	active activity
}

// local is the embedded registry's address and credentials.
func (e *Runner) local() (string, oci.Remote) {
	if e.Embedded != "" {
		return e.Embedded, e.EmbeddedRemote
	}
	return e.Registry, e.Remote
}

// hosts are the registries whose references are Kiln's: where builds
// push, the embedded registry, and the addresses it had before.
func (e *Runner) hosts() []string {
	return append([]string{e.Registry, e.Embedded}, e.Moved...)
}

// Current rewrites a reference naming an address the embedded registry
// had before to its address now; other references are returned as they
// are. For what Kiln hands to others (remote workers, pods), who cannot
// know where the registry was.
func (e *Runner) Current(ref string) string {
	addr, _ := e.local()
	for _, m := range e.Moved {
		if rest, ok := strings.CutPrefix(ref, m+"/"); ok && m != "" {
			return addr + "/" + rest
		}
	}
	return ref
}
