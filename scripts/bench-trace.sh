#!/usr/bin/env bash
# Reproduces the trace figures in docs/benchmarks.md: 100,000 builds and
# about 1,000,000 edges generated into the trace index, then traces timed, on
# SQLite and on a PostgreSQL cluster this script starts in a temp dir
# (default settings: fsync on). Usage:
#   scripts/bench-trace.sh [sqlite|postgres|both] [extra kiln bench trace flags]
set -euo pipefail
cd "$(dirname "$0")/.."
which_backend=${1:-both}; shift || true
go build -o /tmp/kiln-bench ./cmd/kiln

run_sqlite() { /tmp/kiln-bench bench trace "$@"; }

run_postgres() {
  if ! command -v initdb >/dev/null 2>&1; then
    for d in /usr/lib/postgresql/*/bin; do PATH="$PATH:$d"; done
  fi
  local dir port
  dir=$(mktemp -d /tmp/kiln-bench-pg.XXXXXX)
  port=$((20000 + RANDOM % 20000))
  chown postgres "$dir"; chmod 700 "$dir"
  runuser -u postgres -- initdb -D "$dir/data" -A trust -U kiln >/dev/null
  runuser -u postgres -- pg_ctl -D "$dir/data" -o "-p $port -k $dir -c listen_addresses=127.0.0.1 ${KILN_BENCH_PGOPTS:-}" -l "$dir/log" -w start >/dev/null
  trap 'runuser -u postgres -- pg_ctl -D "'"$dir"'/data" -m immediate stop >/dev/null; rm -rf "'"$dir"'"' RETURN
  runuser -u postgres -- createdb -h 127.0.0.1 -p "$port" -U kiln bench
  /tmp/kiln-bench bench trace --database "postgres://kiln@127.0.0.1:$port/bench?sslmode=disable" "$@"
}

case "$which_backend" in
  sqlite) run_sqlite "$@" ;;
  postgres) run_postgres "$@" ;;
  both) run_sqlite "$@"; run_postgres "$@" ;;
  *) echo "usage: $0 [sqlite|postgres|both] [flags]" >&2; exit 2 ;;
esac
