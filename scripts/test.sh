#!/usr/bin/env bash
# Runs every Kiln test: installs test dependencies if missing, rebuilds the
# web UI and checks the committed bundle matches its source
# (scripts/ui-check.sh, with the UI's component tests), then vet and the
# whole suite, including PostgreSQL (a real server started per package in a
# temp dir), kubectl and headless-Chromium end-to-end tests, then the fuzz
# targets (scripts/fuzz.sh).
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

unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt needed on:" >&2; echo "$unformatted" >&2; exit 1
fi
go vet ./...
go test -count=1 -timeout 20m "$@" ./...
# Then every fuzz target for a fixed budget (KILN_FUZZTIME per target,
# default 2000x executions: about 3 minutes in all on 2 cores; 0 skips).
./scripts/fuzz.sh
