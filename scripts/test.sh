#!/usr/bin/env bash
# The test suite: install what is missing, build the offline Docker images when a Docker engine
# runs (so the Docker tests run for real), then unit, fixture, property and live-server tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --browser
export PATH="$HOME/.cargo/bin:$PATH"
docker_ok=false
if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
  docker_ok=true
  bash scripts/setup.sh --docker
  bash scripts/build-images.sh --only base --only mariadb --only redis
else
  echo "test: no Docker engine: the Docker tests will skip themselves"
fi
cargo build --release --quiet
if $docker_ok; then
  bash scripts/build-images.sh --only proxy --bin target/release/cachecheck
fi
cargo test --release --no-fail-fast -- --test-threads=2
