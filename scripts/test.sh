#!/usr/bin/env bash
# Runs every Kiln test: installs test dependencies if missing, rebuilds the
# web UI and checks the committed bundle matches its source
# (scripts/ui-check.sh, with the UI's component tests), then vet and the
# whole suite, including PostgreSQL (a real server started per package in a
# temp dir), kubectl and headless-Chromium end-to-end tests, the Kubernetes
# executor on a real single-node cluster (scripts/k8s-binaries.sh), the
# packages with concurrent code under the race detector, then the fuzz targets
# (scripts/fuzz.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/test-deps.sh
./scripts/ui-check.sh
# Debian keeps PostgreSQL's server binaries off PATH; the tests need them.
if ! command -v initdb >/dev/null 2>&1; then
  for d in /usr/lib/postgresql/*/bin; do PATH="$PATH:$d"; done
  export PATH
fi
export KILN_REQUIRE_POSTGRES=1

# The Kubernetes executor's tests run real Pods on a single-node cluster:
# etcd, kube-apiserver and the kubelet, built once per machine (about 8
# minutes cold on 2 cores; cached by version in ~/.cache/kiln-k8s).
start=$(date +%s)
KILN_K8S_BIN_DIR=$(./scripts/k8s-binaries.sh)
export KILN_K8S_BIN_DIR KILN_REQUIRE_K8S=1
echo "test: Kubernetes binaries ready in $(( $(date +%s) - start ))s ($KILN_K8S_BIN_DIR)" >&2

unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt needed on:" >&2; echo "$unformatted" >&2; exit 1
fi
go vet ./...
# Every package runs once. Those with concurrent code — the ones importing
# sync, sync/atomic or errgroup: the store, controllers, server, builds,
# git, CLI, sandbox, … (computed, so a renamed or new package is covered) —
# run under the race detector, which fails a test on any data race; the
# others run plainly.
mapfile -t race_pkgs < <(go list -f '{{range .Imports}}{{if or (eq . "sync") (eq . "sync/atomic") (eq . "golang.org/x/sync/errgroup")}}{{$.ImportPath}}{{"\n"}}{{end}}{{end}}' ./... | sort -u)
mapfile -t plain_pkgs < <(go list ./... | grep -vxF -f <(printf '%s\n' "${race_pkgs[@]}"))
go test -count=1 -timeout 45m "$@" "${plain_pkgs[@]}"
CGO_ENABLED=1 go test -race -count=1 -timeout 45m "$@" "${race_pkgs[@]}"
# The Debian slice moves gigabytes through the server's gzip, tar and
# SHA-256: too slow under the race detector, which skips it; it runs here.
go test -count=1 -timeout 45m "$@" -run '^TestDebianSliceInComposedBuildroots$' ./internal/server/
# Then every fuzz target for a fixed budget (KILN_FUZZTIME per target,
# default 2000x executions: about 3 minutes in all on 2 cores; 0 skips).
./scripts/fuzz.sh
