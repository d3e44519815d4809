#!/usr/bin/env bash
# Quick start: installs what the demo's builds need on a fresh Debian 12
# machine (bubblewrap, slirp4netns for prefetch steps, git), then runs the
# factory with the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v bwrap >/dev/null 2>&1 || need+=(bubblewrap)
command -v slirp4netns >/dev/null 2>&1 || need+=(slirp4netns)
command -v git >/dev/null 2>&1 || need+=(git)
if [ ${#need[@]} -gt 0 ]; then
  echo "demo: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
exec go run ./cmd/kiln up --demo "$@"
