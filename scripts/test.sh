#!/usr/bin/env bash
# The test suite: install what is missing, then unit, fixture and live-server tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
cargo test --release --no-fail-fast -- --test-threads=2
