#!/usr/bin/env bash
# The main job: install what is missing, build, and run the smoke workload against real
# MariaDB, Redis and fault-proxy processes. Extra arguments go to `cachecheck run`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release --quiet
exec ./target/release/cachecheck run workloads/smoke.toml "$@"
