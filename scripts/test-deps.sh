#!/usr/bin/env bash
# Installs what Kiln's tests need on a fresh Debian 12 machine: PostgreSQL
# server binaries (the store conformance suite starts a real cluster),
# kubectl (the Kubernetes-compatibility test drives the real client),
# bubblewrap plus a static busybox and slirp4netns (the sandbox conformance
# suite; slirp4netns connects prefetch steps' own network namespaces), and
# createrepo_c and rpmbuild (release destinations publish a real yum repo),
# chromium (the web UI's browser tests drive Debian's, never a downloaded
# one) and Node.js with npm (to build the UI and run playwright-core),
# a C compiler with libc headers (go test -race needs cgo),
# debootstrap, fakeroot, dpkg-dev and debhelper (the Debian slice builds in
# buildroots Kiln bootstraps itself; build-compare is tested on packages
# debhelper builds), and gpgv and gpg (apt repositories: the signatures apt
# checks, and a clean bookworm chroot where the real apt installs from Kiln),
# and containerd, runc and the CNI plugins (the Kubernetes executor's tests run
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
command -v ip >/dev/null 2>&1 || need_apt+=(iproute2)
command -v createrepo_c >/dev/null 2>&1 || need_apt+=(createrepo-c)
command -v rpmbuild >/dev/null 2>&1 || need_apt+=(rpm)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v node >/dev/null 2>&1 || need_apt+=(nodejs)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
command -v gcc >/dev/null 2>&1 || need_apt+=(gcc)
[ -e /usr/include/stdlib.h ] || need_apt+=(libc6-dev)
# The Debian slice: Kiln's base buildroot is made by debootstrap under
# fakeroot in a prefetch step on the host image; test sources are fetched
# with apt-get source and unpacked with dpkg-source (dpkg-dev).
command -v debootstrap >/dev/null 2>&1 || need_apt+=(debootstrap)
command -v fakeroot >/dev/null 2>&1 || need_apt+=(fakeroot)
command -v dpkg-source >/dev/null 2>&1 || need_apt+=(dpkg-dev)
command -v dh >/dev/null 2>&1 || need_apt+=(debhelper)
command -v dpkg-deb >/dev/null 2>&1 || need_apt+=(dpkg)
command -v gpgv >/dev/null 2>&1 || need_apt+=(gpgv)
command -v gpg >/dev/null 2>&1 || need_apt+=(gpg)
command -v containerd >/dev/null 2>&1 || need_apt+=(containerd)
command -v runc >/dev/null 2>&1 || need_apt+=(runc)
[ -x /usr/lib/cni/bridge ] || need_apt+=(containernetworking-plugins)

if [ ${#need_apt[@]} -gt 0 ]; then
  echo "test-deps: installing ${need_apt[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
