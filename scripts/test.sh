#!/usr/bin/env bash
# Runs every Kiln test: installs test dependencies if missing, then vet and
# the whole suite, including PostgreSQL (a real server started per package in
# a temp dir), kubectl end-to-end tests and the Kubernetes executor on a real
# single-node cluster (scripts/k8s-binaries.sh), then the fuzz targets
# (scripts/fuzz.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/test-deps.sh
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
go test -count=1 -timeout 20m "$@" ./...
# Then every fuzz target for a fixed budget (KILN_FUZZTIME per target,
# default 2000x executions: about 3 minutes in all on 2 cores; 0 skips).
./scripts/fuzz.sh
