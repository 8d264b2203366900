#!/usr/bin/env bash
# Installs what cachecheck needs on a Debian machine and is missing: MariaDB and Redis servers
# (the harness starts private instances of them), and the headers its Rust dependencies build
# against. Idempotent; needs root (or sudo) only when something is missing.
set -euo pipefail

# --docker: also Compose, which `--infra docker` drives (the local images need nothing more:
# cachecheck builds them from Debian's packages itself).
# --browser: also a headless browser (the report's test).
docker=false
browser=false
for a in "$@"; do
  case "$a" in
    --docker) docker=true ;;
    --browser) browser=true ;;
    *) echo "setup: unknown option $a" >&2; exit 2 ;;
  esac
done

need=()
have_bin() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }
have_bin mariadbd || have_bin mysqld || need+=(mariadb-server)
have_bin redis-server || need+=(redis-server)
command -v redis-benchmark >/dev/null 2>&1 || need+=(redis-tools)
dpkg -s libssl-dev >/dev/null 2>&1 || need+=(libssl-dev)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
command -v cc >/dev/null 2>&1 || need+=(gcc)
# The example services of examples/ (strategy `service`, tests/it/service.rs): Python with
# Flask, redis-py and PyMySQL; Node.js with node-redis and mysql, all from Debian's packages.
/usr/bin/python3 -c 'import flask' >/dev/null 2>&1 || need+=(python3-flask)
/usr/bin/python3 -c 'import redis' >/dev/null 2>&1 || need+=(python3-redis)
/usr/bin/python3 -c 'import pymysql' >/dev/null 2>&1 || need+=(python3-pymysql)
command -v node >/dev/null 2>&1 || need+=(nodejs)
[ -d /usr/share/nodejs/redis ] || [ -d /usr/lib/nodejs/redis ] || need+=(node-redis)
[ -d /usr/share/nodejs/mysql ] || [ -d /usr/lib/nodejs/mysql ] || need+=(node-mysql)
if $docker; then
  if ! docker compose version >/dev/null 2>&1 && ! command -v docker-compose >/dev/null 2>&1; then
    need+=(docker-compose)
  fi
fi
if $browser; then
  # The HTML report's test loads the page in a real headless browser.
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
fi
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi
command -v cargo >/dev/null 2>&1 || { echo "setup: cargo not found (fix: install Rust, https://rustup.rs)" >&2; exit 2; }

if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  # Debian starts packaged services on install where it can; we never use them.
  $SUDO apt-get install -y -q --no-install-recommends "${need[@]}"
fi
