#!/usr/bin/env bash
# Builds the local images of `cachecheck run --infra docker` with no image registry, by
# running `cachecheck images build` (which `run --infra docker` also does by itself when they
# are missing). Needs only a running Docker engine and Debian's mirror (deb.debian.org):
#
#   cachecheck/base:local       Debian essential + apt, bootstrapped by cachecheck from the mirror
#   cachecheck/mariadb:local    MariaDB from Debian (docker/db/)
#   cachecheck/redis:local      Redis from Debian (docker/redis/)
#   cachecheck/toxiproxy:local  the real toxiproxy-server (docker/toxiproxy/), when one is found:
#                               $CACHECHECK_TOXIPROXY, toxiproxy-server on PATH, or
#                               ../shared/toxiproxy/bin/toxiproxy-server beside this checkout
#   cachecheck/proxy:local      else the built-in `cachecheck proxy-server` (docker/proxy/)
#
# Usage: scripts/build-images.sh [--force] [--only NAME]... [--bin PATH]
#   --force      rebuild images that exist (default: keep those built from the same recipe)
#   --only NAME  build only these (base, mariadb, redis, toxiproxy, proxy; repeatable)
#   --bin PATH   the cachecheck binary to run (and to put in the proxy image); default:
#                `cargo build --release` first ($CARGO is the cargo command)
# Environment: CACHECHECK_IMAGE_TAG (default local), CACHECHECK_DEBIAN_SUITE (bookworm),
# CACHECHECK_DEBIAN_MIRROR, CACHECHECK_DEBIAN_SECURITY_MIRROR, CACHECHECK_TOXIPROXY.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
args=()
bin=""

die() { echo "build-images: error: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
    case "$1" in
        --force) args+=(--force) ;;
        --only) shift; [ $# -gt 0 ] || die "--only needs a name"; args+=("$1") ;;
        --bin) shift; [ $# -gt 0 ] || die "--bin needs a path"; bin=$1 ;;
        -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
    shift
done

if [ -z "$bin" ]; then
    echo "build-images: building the release binary (cargo build --release)" >&2
    (cd "$repo" && ${CARGO:-cargo} build --release --bin cachecheck) >&2 ||
        die "cargo build --release failed"
    bin=${CARGO_TARGET_DIR:-$repo/target}/release/cachecheck
fi
[ -x "$bin" ] || die "no cachecheck binary at $bin (fix: --bin PATH)"

shared=$repo/../shared/toxiproxy/bin/toxiproxy-server
if [ -z "${CACHECHECK_TOXIPROXY:-}" ] && ! command -v toxiproxy-server >/dev/null 2>&1 && [ -x "$shared" ]; then
    export CACHECHECK_TOXIPROXY=$(cd "$(dirname "$shared")" && pwd)/toxiproxy-server
fi
exec "$bin" images build "${args[@]}"
