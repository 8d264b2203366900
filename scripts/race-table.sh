#!/usr/bin/env bash
# Prints the race matrix as Markdown (the README's race table and docs/races.md's), a thin
# wrapper of `cachecheck suite --format markdown`.
#
#   scripts/race-table.sh [N]        # runs every workloads/races/*.toml N times (default 1)
#   scripts/race-table.sh SUITE_DIR  # prints the matrix.md of a finished suite (a directory
#                                    # holding matrix.json, or an --out holding `latest`)
#
# CACHECHECK=path picks the binary (default: target/release/cachecheck, built when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${CACHECHECK:-${CARGO_TARGET_DIR:-target}/release/cachecheck}
arg=${1:-1}
if [ -d "$arg" ]; then
  for d in "$arg" "$arg/latest"; do
    if [ -f "$d/matrix.md" ]; then
      exec cat "$d/matrix.md"
    fi
  done
  echo "race-table.sh: $arg holds no matrix.md (fix: give the directory of a cachecheck suite)" >&2
  exit 2
fi
case "$arg" in
  '' | *[!0-9]*)
    echo "race-table.sh: $arg is neither a number of runs nor a directory (fix: scripts/race-table.sh [N|SUITE_DIR])" >&2
    exit 2
    ;;
esac
[ -x "$bin" ] || cargo build --release --quiet
out=$(mktemp -d /tmp/race-table.XXXXXX)
exec "$bin" suite --repeat "$arg" --out "$out" --format markdown -q
