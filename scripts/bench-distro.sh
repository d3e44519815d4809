#!/usr/bin/env bash
# Builds the Debian slice of examples/debian-slice from nothing with a real
# `kiln up` and measures what docs/distro.md reports ("A real slice"):
#   build    the base buildroot, then the 52 source packages as one group:
#            makespan, total build time, workers, and the makespan against the
#            planner's simulation with the measured durations and against a
#            level-by-level schedule (kiln graph plan);
#   cascade  libevent's real security fix (bookworm-security, imported on
#            top of the bookworm version): what it rebuilds, each build's reason;
#   cutoff   a comment-only change to libevent: it rebuilds, nothing else;
#   install  the real apt in a clean bookworm chroot installs slice packages
#            from Kiln's repository of the application.
# Needs root, the network to deb.debian.org and ~40 GB of disk (the
# composed-buildroot cache is bounded by kiln up's --buildroot-cache-size).
#
# Usage: scripts/bench-distro.sh [DIR]
#   DIR holds the server's data, the imported repositories and results/
#   (default: a new directory under /var/tmp). Run again with the same DIR,
#   phases whose results/PHASE.json exists are skipped (a phase interrupted
#   midway is not resumed: use a new DIR).
# Env: KILN_BENCH_WORKERS  concurrent builds (default: the number of cores)
#      KILN_BENCH_PHASES   which phases (default: "build cascade cutoff install")
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
dir=${1:-$(mktemp -d /var/tmp/kiln-distro.XXXXXX)}
mkdir -p "$dir/results"
dir=$(cd "$dir" && pwd)
res=$dir/results
workers=${KILN_BENCH_WORKERS:-$(nproc)}
phases=${KILN_BENCH_PHASES:-build cascade cutoff install}
ns=distro app=slice
say() { echo "bench-distro: $*" >&2; }

install_tools() {
  local need=() t
  for t in bwrap:bubblewrap slirp4netns:slirp4netns git:git debootstrap:debootstrap fakeroot:fakeroot \
    dpkg-source:dpkg-dev jq:jq gpgv:gpgv; do
    command -v "${t%%:*}" >/dev/null 2>&1 || need+=("${t#*:}")
  done
  if [ ${#need[@]} -gt 0 ]; then
    say "installing ${need[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
}

kiln() { "$dir/kiln" --config "$dir/data/client.yaml" -n "$ns" "$@"; }

start_server() {
  go build -o "$dir/kiln" ./cmd/kiln
  # The same port on every start: artifact references name the embedded
  # registry by the server's address.
  [ -f "$dir/port" ] || echo $((20000 + RANDOM % 20000)) >"$dir/port"
  local port; port=$(cat "$dir/port")
  "$dir/kiln" up --data-dir "$dir/data" --listen "127.0.0.1:$port" --allow-file-sources \
    --write-user-config=false --build-workers "$workers" --batch-window 30s >>"$dir/server.log" 2>&1 &
  server=$!
  trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
  for _ in $(seq 120); do
    [ -f "$dir/data/client.yaml" ] && "$dir/kiln" --config "$dir/data/client.yaml" --server "https://127.0.0.1:$port" whoami >/dev/null 2>&1 && break
    kill -0 "$server" 2>/dev/null || { tail -20 "$dir/server.log" >&2; exit 1; }
    sleep 1
  done
  "$dir/kiln" --config "$dir/data/client.yaml" config set-server "https://127.0.0.1:$port" >/dev/null
  say "kiln up on 127.0.0.1:$port, $workers build workers, data in $dir/data (log: $dir/server.log)"
}

# wait_quiet SINCE: waits until something was built since SINCE (epoch
# seconds) and every build and BuildGroup since then is final, twice in a
# row 20 s apart (a finished build may still start its dependants' group).
wait_quiet() {
  local since=$1 quiet=0 final='["Succeeded","Failed","Cancelled"]'
  while [ $quiet -lt 2 ]; do
    sleep 20
    local b g
    b=$(kiln get builds -o json | jq --argjson s "$since" --argjson f "$final" \
      '[.items[] | select((.metadata.creationTimestamp | fromdateiso8601) >= $s)] | length > 0 and all(.[]; .status.phase as $p | $f | index($p))')
    g=$(kiln get buildgroups -o json | jq --argjson s "$since" --argjson f "$final" \
      '[.items[] | select((.metadata.creationTimestamp | fromdateiso8601) >= $s)] | all(.[]; .status.phase as $p | $f | index($p))')
    if [ "$b" = true ] && [ "$g" = true ]; then quiet=$((quiet + 1)); else quiet=0; fi
  done
}

# groups_since SINCE: the BuildGroups created at or after SINCE, as JSON.
groups_since() {
  kiln get buildgroups -o json | jq --argjson s "$1" '[.items[] | select((.metadata.creationTimestamp | fromdateiso8601) >= $s)]'
}

# builds_since SINCE: the builds created at or after SINCE, as JSON lines.
builds_since() {
  kiln get builds -o json | jq -c --argjson s "$1" '.items[] | select((.metadata.creationTimestamp | fromdateiso8601) >= $s) |
    {name: .metadata.name, component: .spec.component, phase: .status.phase,
     digest: (.status.artifact.digest // null), unchanged: (.status.unchanged // false), start: (.status.startTime // null), end: (.status.completionTime // null), reason: .spec.reason,
     seconds: (if .status.startTime and .status.completionTime then
       ((.status.completionTime | fromdateiso8601) - (.status.startTime | fromdateiso8601)) else null end)}'
}

packages() { grep -v '^#' examples/debian-slice/packages.txt | tr -s ' \n' ' '; }

phase_build() {
  kiln create namespace "$ns" >/dev/null 2>&1 || true
  # The base buildroot is a component of this repository (distro/debian-base).
  local base=$dir/debian-base
  if [ ! -d "$base/.git" ]; then
    mkdir -p "$base" && cp -a distro/debian-base/. "$base/"
    git -C "$base" init -q -b main && git -C "$base" add -A &&
      git -C "$base" -c user.name=bench -c user.email=bench@localhost commit -qm "debian-base"
  fi
  local t0; t0=$(date +%s)
  kiln apply -f - <<YAML
apiVersion: kiln.dev/v1alpha1
kind: Application
metadata: {name: $app, namespace: $ns, annotations: {kiln.dev/apt-repository: public}}
spec: {}
---
apiVersion: kiln.dev/v1alpha1
kind: Component
metadata: {name: debian-base, namespace: $ns}
spec:
  application: $app
  source: {git: {url: "file://$base", revision: main}}
YAML
  if [ "$(builds_since 0 | jq -s '[.[] | select(.component == "debian-base" and .phase == "Succeeded")] | length')" = 0 ]; then
    say "bootstrapping the base buildroot (debootstrap in a build)…"
    wait_quiet "$t0"
  fi
  builds_since 0 | jq -s '[.[] | select(.component == "debian-base")]' >"$res/base-builds.json"
  [ "$(jq -r '.[0].phase' "$res/base-builds.json")" = Succeeded ] || { say "the base failed: see kiln describe build"; exit 1; }
  local t1; t1=$(date +%s)
  say "importing $(packages | wc -w) source packages"
  # shellcheck disable=SC2046
  kiln import debian $(packages) --app "$app" --dir "$dir/sources" --nocheck --profiles nobiarch >"$res/import.txt"
  say "building the slice (one BuildGroup)…"
  wait_quiet "$t1"
  groups_since "$t1" >"$res/slice-groups.json"
  builds_since "$t1" | jq -s . >"$res/slice-builds.json"
  simulate "$res/slice-groups.json" "$res/slice-builds.json" >"$res/simulation.json"
  report_build | tee "$res/build.json"
}

# simulate GROUPS BUILDS: the planner's schedule of the group's graph with
# the measured durations, on the same number of workers.
simulate() {
  jq -r '.[].status.members[] | .component as $c | (.dependsOn // [])[] | "\($c)\t\(.)"' "$1" >"$res/edges.tsv"
  jq -r '.[] | select(.seconds != null) | "\(.component)\t\(.seconds)"' "$2" >"$res/durations.tsv"
  "$dir/kiln" graph plan --edges "$res/edges.tsv" --durations "$res/durations.tsv" --workers "$workers" -o json
}

report_build() {
  jq -n --slurpfile g "$res/slice-groups.json" --slurpfile b "$res/slice-builds.json" \
    --slurpfile base "$res/base-builds.json" --slurpfile sim "$res/simulation.json" --argjson w "$workers" '
    ($g[0] | max_by(.status.members | length)) as $grp | ($b[0]) as $builds |
    (($grp.status.completionTime | fromdateiso8601) - ($grp.status.startTime | fromdateiso8601)) as $makespan |
    {workers: $w, groups: ($g[0] | length), members: ($grp.status.members | length),
     memberStates: ($grp.status.members | group_by(.state) | map({(.[0].state): length}) | add),
     baseSeconds: $base[0][0].seconds,
     makespan: $makespan, totalBuildSeconds: ([$builds[].seconds // 0] | add),
     simulatedMakespan: $sim[0].makespan, levelBarrier: $sim[0].levelBarrier,
     criticalPath: $sim[0].criticalPath, lowerBound: $sim[0].lowerBound, depth: $sim[0].depth,
     overSimulation: ($makespan / $sim[0].makespan), overLevelBarrier: ($makespan / $sim[0].levelBarrier),
     failed: [$grp.status.members[] | select(.state != "succeeded" and .state != "unchanged") | {component, state, message}]}'
}

phase_cascade() {
  local t0; t0=$(date +%s)
  say "importing libevent's security update on top (a real upstream fix)"
  kiln import debian libevent --mirror http://deb.debian.org/debian-security --suite bookworm-security \
    --app "$app" --dir "$dir/sources" --nocheck --profiles nobiarch >"$res/cascade-import.txt"
  cat "$res/cascade-import.txt" >&2
  wait_quiet "$t0"
  groups_since "$t0" >"$res/cascade-groups.json"
  builds_since "$t0" | jq -s . >"$res/cascade-builds.json"
  report_rebuild cascade libevent | tee "$res/cascade.json"
}

phase_cutoff() {
  local t0 clone; t0=$(date +%s)
  clone=$(mktemp -d)
  git clone -q "$dir/sources/libevent.git" "$clone"
  # A comment at the end of a source file: no line of code moves.
  printf '/* A comment-only change: the library must rebuild identically. */\n' >>"$clone/event.c"
  git -C "$clone" -c user.name=bench -c user.email=bench@localhost commit -qam "event.c: a comment"
  git -C "$clone" push -q origin HEAD:main
  rm -rf "$clone"
  say "committed a comment-only change to libevent; waiting for the next poll and the group"
  wait_quiet "$t0"
  groups_since "$t0" >"$res/cutoff-groups.json"
  builds_since "$t0" | jq -s . >"$res/cutoff-builds.json"
  report_rebuild cutoff libevent | tee "$res/cutoff.json"
}

# report_rebuild NAME CHANGED: which builds a change caused, with their
# reasons, against the graph's dependants of CHANGED.
report_rebuild() {
  jq -n --arg name "$1" --arg changed "$2" --slurpfile g "$res/$1-groups.json" --slurpfile b "$res/$1-builds.json" '
    ($g[0] | map(.status.members[]) ) as $m |
    {phase: $name, groups: ($g[0] | length),
     makespan: ([$g[0][] | ((.status.completionTime | fromdateiso8601) - (.status.startTime | fromdateiso8601))] | add),
     directDependants: [$m[] | select((.dependsOn // []) | index($changed)) | .component] | unique,
     rebuilt: [$b[0][] | {component, phase, seconds, digest, unchanged, reason: (.reason.type // ""), why: (.reason.message // "")}],
     members: [$m[] | {component, state, changed: (.changed // false)}]}'
}

phase_install() {
  local root=$dir/chroot
  if [ ! -x "$root/usr/bin/apt-get" ]; then
    say "debootstrap of a clean bookworm chroot"
    debootstrap --variant=minbase bookworm "$root.tmp" http://deb.debian.org/debian >"$dir/debootstrap.log" 2>&1
    mv "$root.tmp" "$root"
  fi
  kiln apply -f - >/dev/null <<YAML
apiVersion: kiln.dev/v1alpha1
kind: Application
metadata: {name: $app, namespace: $ns, annotations: {kiln.dev/apt-repository: public}}
spec: {}
YAML
  local url; url=$(kiln repo show "$app" -o json | jq -r .url)
  mkdir -p "$root/etc/apt/keyrings"
  kiln keys public --format openpgp >"$root/etc/apt/keyrings/kiln.asc"
  install -m 0644 "$dir/data/tls/ca.crt" "$root/etc/apt/kiln-ca.pem"   # apt reads it as _apt
  # Kiln's repository next to Debian's, preferred (a user adds it to the
  # archive): what the slice built comes from Kiln, the rest from Debian.
  cat >"$root/etc/apt/kiln.list" <<LIST
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main
deb [signed-by=/etc/apt/keyrings/kiln.asc] $url stable main
LIST
  printf 'Package: *\nPin: origin 127.0.0.1\nPin-Priority: 1001\n' >"$root/etc/apt/preferences.d/kiln"
  local apt=(chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LC_ALL=C
    apt-get -o Dir::Etc::SourceList=/etc/apt/kiln.list -o Dir::Etc::SourceParts=/dev/null
    -o Acquire::https::CaInfo=/etc/apt/kiln-ca.pem)
  "${apt[@]}" update >"$res/install.txt" 2>&1
  "${apt[@]}" install -y --no-install-recommends tmux epub-utils unzip >>"$res/install.txt" 2>&1
  chroot "$root" dpkg-query -W -f '${Package}\t${Version}\t${Status}\n' tmux libevent-core-2.1-7 epub-utils libepub0 libzip4 unzip zlib1g |
    jq -R -s 'split("\n") | map(select(. != "") | split("\t") | {package: .[0], version: .[1], status: .[2]}) | {installed: .}' |
    tee "$res/install.json"
  chroot "$root" apt-cache -o Dir::Etc::SourceList=/etc/apt/kiln.list -o Dir::Etc::SourceParts=/dev/null \
    policy tmux libevent-core-2.1-7 epub-utils libepub0 libzip4 unzip >>"$res/install.txt"
}

install_tools
start_server
for p in $phases; do
  if [ -f "$res/$p.json" ]; then
    say "$p: done before ($res/$p.json)"
    continue
  fi
  say "phase $p"
  "phase_$p"
done
say "results in $res"
