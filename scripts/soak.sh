#!/usr/bin/env bash
# Soak benchmark (not part of the test suite): the realistic workload with random faults for
# 30 minutes (or $SOAK_SECS), then its course over time: ops/s, fail/info, the harness's
# resident memory and open file descriptors per minute. Memory must stay flat: the history
# streams to disk. Extra arguments go to `cachecheck run` (e.g. --clients 1000).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release --quiet
secs="${SOAK_SECS:-1800}"
out="${SOAK_OUT:-results}"
./target/release/cachecheck run workloads/soak.toml --duration "$secs" --out "$out" "$@" || true
./target/release/cachecheck timeline "$out/latest" --every 60
