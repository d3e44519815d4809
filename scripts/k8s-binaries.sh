#!/usr/bin/env bash
# Builds the binaries of a real single-node Kubernetes cluster for the
# Kubernetes executor's tests: kube-apiserver and kubelet from
# k8s.io/kubernetes, etcd from go.etcd.io/etcd/server/v3, all through the Go
# module proxy. They are cached by version under
# ${KILN_K8S_BIN_CACHE:-$HOME/.cache/kiln-k8s}/<versions>/, so a CI run builds
# them once (about 8 minutes cold on 2 cores) and later runs reuse them.
# Prints the directory holding the binaries.
set -euo pipefail

K8S_VERSION=${KILN_K8S_VERSION:-v1.37.2}
ETCD_VERSION=${KILN_ETCD_VERSION:-v3.7.3}
cache=${KILN_K8S_BIN_CACHE:-$HOME/.cache/kiln-k8s}
out="$cache/k8s-$K8S_VERSION-etcd-$ETCD_VERSION"
if [ -x "$out/kube-apiserver" ] && [ -x "$out/kubelet" ] && [ -x "$out/etcd" ]; then
  echo "$out"; exit 0
fi
if [ -n "${KILN_K8S_CACHED_ONLY:-}" ]; then
  echo "k8s-binaries: not built yet in $out" >&2; exit 1
fi
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
if [ -x "$out/kube-apiserver" ] && [ -x "$out/kubelet" ] && [ -x "$out/etcd" ]; then
  echo "$out"; exit 0
fi

work=$(mktemp -d "$cache/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
export GOFLAGS=-mod=mod GOWORK=off CGO_ENABLED=0
staging="0${K8S_VERSION#v1}" # v1.37.2 -> staging modules at v0.37.2
staging="v${staging}"

# kube-apiserver and kubelet: k8s.io/kubernetes refers to its staging
# modules by ./staging paths; point each at its published version.
mkdir "$work/k8s" && cd "$work/k8s"
go mod init kiln.test/k8sbins >/dev/null 2>&1
gomod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
go mod edit -require="k8s.io/kubernetes@$K8S_VERSION"
for m in $(sed -n 's#^[[:space:]]*\(k8s.io/[^ ]*\) => ./staging/.*#\1#p' "$gomod"); do
  go mod edit -replace="$m=$m@$staging"
done
cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
GO
go mod tidy -e >/dev/null 2>&1 || true
mkdir -p "$work/bin"
go build -trimpath -ldflags=-s -o "$work/bin/" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubelet >&2

mkdir "$work/etcd" && cd "$work/etcd"
go mod init kiln.test/etcdbin >/dev/null 2>&1
go mod edit -require="go.etcd.io/etcd/server/v3@$ETCD_VERSION"
cat > tools.go <<'GO'
//go:build tools

package tools

import _ "go.etcd.io/etcd/server/v3"
GO
go mod tidy -e >/dev/null 2>&1 || true
go build -trimpath -ldflags=-s -o "$work/bin/etcd" go.etcd.io/etcd/server/v3 >&2

mkdir -p "$(dirname "$out")"
rm -rf "$out"
mv "$work/bin" "$out"
echo "$out"
