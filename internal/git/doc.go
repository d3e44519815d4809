// Package git gives Kiln read access to git repositories: resolving a branch
// or tag to a commit, keeping a bare mirror per repository, exporting the
// tree of a commit (or of one sub-directory) for a build, and polling
// branches for new commits.
//
// It drives the git command-line client rather than a Go implementation such
// as go-git, for three reasons:
//
//   - The CLI is what users already have and trust: it behaves exactly as it
//     does on their machines, including its error messages.
//   - It supports every transport (https, ssh, git, file), protocol v2,
//     proxies and certificate settings, and its behaviour against every
//     forge is exercised daily by millions of users. go-git lags on protocol
//     v2, partial clone and some ssh setups.
//   - It is fast where Kiln needs speed: incremental and shallow fetches into
//     a bare mirror, and exporting a tree with `git archive`.
//
// The cost is a process per operation (a few milliseconds) and a runtime
// dependency on git (2.29 or later) being on PATH.
//
// Every git process runs with a minimal environment: no system or user
// configuration (GIT_CONFIG_NOSYSTEM=1, GIT_CONFIG_GLOBAL=/dev/null, HOME
// set to a directory Kiln owns), no terminal prompts, no ssh agent or
// default ssh keys, and the context's deadline. Credentials are given per
// remote: an https token reaches git through a GIT_ASKPASS helper that reads
// it from the child's environment (never the URL or argv, never logged), an
// ssh key through GIT_SSH_COMMAND with StrictHostKeyChecking=accept-new and
// a known_hosts file under HOME.
package git
