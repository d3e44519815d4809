// Package pipeline reads Kiln's pipelines — a strict subset of Tekton's
// tekton.dev/v1 Task, Pipeline and PipelineRun — compiles them into a Plan
// and runs plans step by step in a sandbox.
//
//	LoadFromRepo(dir) ─┐                                      RunOptions{Runner, WorkspaceDir,
//	ParseFiles(paths) ─┼─► *Pipeline ─► Compile(p, params, ctx) ─► *Plan ─► Run ─► *RunResult
//	Parse(data) ───────┘    (+ Catalog)     pure; Plan.Digest()        ImageResolver, Secret, ...}
//
// Parsing rejects every field Kiln does not support, naming its path.
// Compile resolves taskRefs (Tasks of the same files, then the built-in
// Catalog), substitutes params and context variables, checks result
// references and orders the tasks (stable topological order); it leaves only
// task results and statuses to be substituted at run time. Run executes
// prefetch steps first (with network), then the tasks in dependency order,
// in parallel where they are independent, then the finally tasks.
//
// Kiln's extensions are annotations, so files stay valid Tekton:
// kiln.dev/prefetch marks prefetch steps, kiln.dev/output-workspace names
// the output workspace (default "output"), kiln.dev/root-workspace makes a
// workspace the writable root filesystem of a task's steps, and the
// catalog's oci-image task (kiln.dev/builtin: image) declares an image the
// server assembles. The step image kiln.dev/buildroot (BuildrootImage) is
// the buildroot the server composes for a build. See docs/pipelines.md.
package pipeline
