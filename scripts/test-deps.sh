#!/usr/bin/env bash
# Installs what Kiln's tests need on a fresh Debian 12 machine: PostgreSQL
# server binaries (the store conformance suite starts a real cluster),
# kubectl (the Kubernetes-compatibility test drives the real client),
# bubblewrap plus a static busybox and slirp4netns (the sandbox conformance
# suite; slirp4netns connects prefetch steps' own network namespaces), and
# createrepo_c and rpmbuild (release destinations publish a real yum repo),
# containerd, runc and the CNI plugins (the Kubernetes executor's tests run
# real pods on a single-node cluster; scripts/k8s-binaries.sh builds its
# etcd, kube-apiserver and kubelet).
# Idempotent; needs root for apt-get only when something is missing.
set -euo pipefail

need_apt=()
pg_bin() {
  command -v initdb >/dev/null 2>&1 && return 0
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && return 0
  done
  return 1
}
pg_bin || need_apt+=(postgresql)
command -v kubectl >/dev/null 2>&1 || need_apt+=(kubernetes-client)
command -v git >/dev/null 2>&1 || need_apt+=(git)
command -v bwrap >/dev/null 2>&1 || need_apt+=(bubblewrap)
busybox_static() {
  local b
  b=$(command -v busybox) || return 1
  ! ldd "$b" >/dev/null 2>&1 # ldd fails on a static binary
}
busybox_static || need_apt+=(busybox-static)
command -v slirp4netns >/dev/null 2>&1 || need_apt+=(slirp4netns)
command -v createrepo_c >/dev/null 2>&1 || need_apt+=(createrepo-c)
command -v rpmbuild >/dev/null 2>&1 || need_apt+=(rpm)
command -v containerd >/dev/null 2>&1 || need_apt+=(containerd)
command -v runc >/dev/null 2>&1 || need_apt+=(runc)
[ -x /usr/lib/cni/bridge ] || need_apt+=(containernetworking-plugins)

if [ ${#need_apt[@]} -gt 0 ]; then
  echo "test-deps: installing ${need_apt[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
