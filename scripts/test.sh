#!/usr/bin/env bash
# The test suite: install what is missing, then unit, fixture, property and live-server tests.
# With a Docker engine, the Docker tests run for real: the first of them builds this checkout's
# test images from nothing, once, the way a new user's `cachecheck run --infra docker` does
# (about 2 min here), with the real Toxiproxy inside the stack when a toxiproxy-server is found.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --browser
export PATH="$HOME/.cargo/bin:$PATH"
if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
  bash scripts/setup.sh --docker
  tp=${CACHECHECK_TOXIPROXY:-$(command -v toxiproxy-server || echo ../shared/toxiproxy/bin/toxiproxy-server)}
  if [ -x "$tp" ]; then
    echo "test: the Docker stack's fault proxy: $("$tp" -version) ($tp)"
  else
    echo "test: no toxiproxy-server (CACHECHECK_TOXIPROXY, PATH, ../shared/toxiproxy/bin): the Docker stack's fault proxy is the built-in one"
  fi
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
cargo test --release --no-fail-fast -- --test-threads=2
