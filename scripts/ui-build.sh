#!/usr/bin/env bash
# Builds the web UI reproducibly: installs web/'s dependencies exactly as
# web/package-lock.json pins them (npm ci), runs the UI's component tests
# (vitest), and bundles web/src into internal/ui/dist, which the kiln binary
# embeds (so `go build` needs no Node.js). Commit internal/ui/dist with the
# source change; scripts/ui-check.sh (run by scripts/test.sh) fails when
# they differ. KILN_UI_NO_INSTALL=1 skips npm ci (node_modules up to date).
set -euo pipefail
cd "$(dirname "$0")/../web"

need_major=20
major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$major" -lt "$need_major" ]; then
  echo "ui-build: Node.js >= $need_major is needed to build the UI (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi
export SOURCE_DATE_EPOCH=0 TZ=UTC LC_ALL=C NODE_ENV=production
if [ -z "${KILN_UI_NO_INSTALL:-}" ]; then
  npm ci --no-audit --no-fund --loglevel=error --include=dev
fi
npx --no-install vitest run --reporter=dot
npx --no-install vite build --logLevel warn
echo "ui-build: internal/ui/dist rebuilt from web/"
