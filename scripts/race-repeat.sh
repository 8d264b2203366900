#!/usr/bin/env bash
# Runs every race workload (workloads/races/*.toml) N times (default 10) and prints the matrix
# with agreement counts: a thin wrapper of `cachecheck suite --repeat N`. Not part of CI: it
# takes about N x 3 minutes.
#
#   scripts/race-repeat.sh [N] [WORKLOAD-NAME...]
#
# CACHECHECK=path picks the binary (default: target/release/cachecheck, built when missing);
# OUT=dir keeps the results (default: a temporary directory); FORMAT=markdown|json|html picks
# the output (default: table). The exit code is the suite's (1: an expectation failed).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10}
shift || true
bin=${CACHECHECK:-${CARGO_TARGET_DIR:-target}/release/cachecheck}
[ -x "$bin" ] || cargo build --release --quiet
out=${OUT:-$(mktemp -d /tmp/race-repeat.XXXXXX)}
files=()
for w in "$@"; do files+=("workloads/races/${w%.toml}.toml"); done
exec "$bin" suite "${files[@]}" --repeat "$n" --out "$out" --format "${FORMAT:-table}"
