#!/usr/bin/env bash
# Rebuilds the web UI (scripts/ui-build.sh) and fails if the committed
# bundle in internal/ui/dist does not match web/'s source and lockfile.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/ui-build.sh
if ! git diff --quiet -- internal/ui/dist || [ -n "$(git ls-files --others --exclude-standard -- internal/ui/dist)" ]; then
  echo "ui-check: internal/ui/dist differs from what web/ builds:" >&2
  git status --short -- internal/ui/dist >&2
  echo "run ./scripts/ui-build.sh and commit internal/ui/dist" >&2
  exit 1
fi
echo "ui-check: internal/ui/dist matches web/"
