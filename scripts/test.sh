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
# The real Toxiproxy as the fault tests' second server: ../shared/toxiproxy/bin on CI, else
# toxiproxy-server on PATH (tests/it/support.rs finds it); without one they run on the
# built-in server only.
if [ -x ../shared/toxiproxy/bin/toxiproxy-server ]; then
  export CACHECHECK_TEST_TOXIPROXY="$(cd ../shared/toxiproxy/bin && pwd)/toxiproxy-server"
  echo "test: the fault tests also run against $("$CACHECHECK_TEST_TOXIPROXY" -version) ($CACHECHECK_TEST_TOXIPROXY)"
elif command -v toxiproxy-server >/dev/null 2>&1; then
  echo "test: the fault tests also run against $(toxiproxy-server -version) ($(command -v toxiproxy-server))"
else
  echo "test: no ../shared/toxiproxy/bin/toxiproxy-server and none on PATH: the fault tests run against the built-in proxy only"
fi
if $docker_ok; then
  bash scripts/build-images.sh --only proxy --bin target/release/cachecheck
fi
cargo test --release --no-fail-fast -- --test-threads=2
