#!/usr/bin/env bash
# Runs every fuzz target (func FuzzXxx in a _test.go file) for a fixed
# budget each. Go fuzzes one target per `go test` invocation, so this lists
# the targets of each package and runs them one after another.
#
#   KILN_FUZZTIME   budget per target (go test -fuzztime), default 2000x:
#                   a count of executions, a few seconds per target here.
#                   A duration (30s, 2m) works too, but Go 1.26's fuzz
#                   coordinator can then fail a loaded run with a bare
#                   "context deadline exceeded" at the deadline and no
#                   failing input (go.dev/issue/75804, fixed in Go 1.27);
#                   a count has no deadline to race. 0 skips fuzzing (the
#                   seed corpora still run as unit tests)
#   KILN_FUZZ_PKGS  packages to fuzz, default every package with a target
#
# A failing target fails the script; the failing input is written to
# <package>/testdata/fuzz/<FuzzName>/<id> and its path printed. Commit it
# with the fix: it then runs as a regression test in every `go test`.
set -euo pipefail
cd "$(dirname "$0")/.."

fuzztime=${KILN_FUZZTIME:-2000x}
if [ "$fuzztime" = "0" ] || [ "$fuzztime" = "0s" ] || [ "$fuzztime" = "0x" ]; then
  echo "fuzz: skipped (KILN_FUZZTIME=$fuzztime)"
  exit 0
fi

if [ -n "${KILN_FUZZ_PKGS:-}" ]; then
  read -r -a pkgs <<<"$KILN_FUZZ_PKGS"
else
  mapfile -t pkgs < <(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u)
fi

failed=()
start=$SECONDS
for pkg in "${pkgs[@]}"; do
  mapfile -t targets < <(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true)
  for target in "${targets[@]}"; do
    log=$(mktemp)
    t0=$SECONDS
    if go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" -fuzzminimizetime 10s \
      -timeout 10m "$pkg" >"$log" 2>&1; then
      echo "fuzz: ok   $pkg $target ($((SECONDS - t0))s)"
    else
      echo "fuzz: FAIL $pkg $target" >&2
      grep -v '^fuzz: elapsed' "$log" | tail -n 40 >&2 || true
      input=$(sed -n 's/.*Failing input written to \(testdata\/fuzz\/[^ ]*\).*/\1/p' "$log" | head -n1)
      if [ -n "$input" ]; then
        echo "fuzz: failing input: ${pkg#./}/$input" >&2
        echo "fuzz: reproduce with: go test -run '${target}/$(basename "$input")' $pkg" >&2
      fi
      failed+=("$pkg $target")
    fi
    rm -f "$log"
  done
done

echo "fuzz: ${#failed[@]} failed, $((SECONDS - start))s in total (KILN_FUZZTIME=$fuzztime per target)"
if [ ${#failed[@]} -gt 0 ]; then
  printf 'fuzz: failed: %s\n' "${failed[@]}" >&2
  exit 1
fi
