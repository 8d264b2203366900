#!/usr/bin/env bash
# Builds the local images of `cachecheck run --infra docker` with no image registry: Debian
# root filesystems made by mmdebstrap from Debian's packages (variant essential, no recommends,
# no docs), imported with `docker import`.
#
#   cachecheck/base:local     minimal Debian (libssl3, ca-certificates): the proxy's base
#   cachecheck/mariadb:local  MariaDB from Debian (docker/db/entrypoint.sh, root over TCP)
#   cachecheck/redis:local    Redis from Debian
#   cachecheck/proxy:local    `cachecheck proxy-server --listen 0.0.0.0:8474` on the base
#                             (docker build with DOCKER_BUILDKIT=0 FROM the local base)
#
# Usage: scripts/build-images.sh [--force] [--only base|mariadb|redis|proxy]... [--bin PATH]
#   --force      rebuild images that exist (default: skip them, so a re-run takes a second;
#                with --bin, the proxy image is rebuilt when it holds another binary)
#   --only NAME  build only these images (repeatable; the proxy needs the base)
#   --bin PATH   the cachecheck binary for the proxy image (default: `cargo build --release`;
#                $CARGO is the cargo command, e.g. CARGO=/tmp/cargo-locked)
# Environment: CACHECHECK_DEBIAN_SUITE (default bookworm), CACHECHECK_DEBIAN_MIRROR
# (default http://deb.debian.org/debian), CACHECHECK_DEBIAN_SECURITY_MIRROR.
# Needs: docker (engine running), mmdebstrap (apt-get install mmdebstrap), root.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
suite=${CACHECHECK_DEBIAN_SUITE:-bookworm}
mirror=${CACHECHECK_DEBIAN_MIRROR:-http://deb.debian.org/debian}
secmirror=${CACHECHECK_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
force=0
only=()
bin=""

die() { echo "build-images: error: $*" >&2; exit 2; }
say() { echo "build-images: $*" >&2; }

while [ $# -gt 0 ]; do
    case "$1" in
        --force) force=1 ;;
        --only) shift; [ $# -gt 0 ] || die "--only needs a name"; only+=("$1") ;;
        --bin) shift; [ $# -gt 0 ] || die "--bin needs a path"; bin=$1 ;;
        -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
    shift
done
for n in "${only[@]}"; do
    case "$n" in base|mariadb|redis|proxy) ;; *) die "--only $n: not one of base, mariadb, redis, proxy" ;; esac
done

wanted() {
    [ ${#only[@]} -eq 0 ] && return 0
    local n
    for n in "${only[@]}"; do [ "$n" = "$1" ] && return 0; done
    return 1
}

command -v docker >/dev/null || die "docker not found (fix: apt-get install docker.io)"
docker info >/dev/null 2>&1 || die "the Docker engine is not reachable (fix: start it, e.g. systemctl start docker or dockerd &)"

exists() { docker image inspect "$1" >/dev/null 2>&1; }

# Prints "tag size seconds" lines at the end.
report=()
note() { report+=("$(printf '%-26s %8s %6ss' "$1" "$(docker image inspect -f '{{.Size}}' "$1" | awk '{printf "%.0f MB", $1/1e6}')" "$2")"); }

# rootfs TAG 'CHANGE'... -- PACKAGES... [-- HOOK-ARGS...]: mmdebstrap | docker import.
rootfs() {
    local tag=$1; shift
    local changes=()
    while [ "$1" != -- ]; do changes+=(--change "$1"); shift; done
    shift
    local pkgs=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do pkgs+=("$1"); shift; done
    [ $# -gt 0 ] && shift
    command -v mmdebstrap >/dev/null || die "mmdebstrap not found (fix: apt-get install mmdebstrap)"
    [ "$(id -u)" = 0 ] || die "mmdebstrap needs root here (fix: run as root)"
    local log
    log=$(mktemp /tmp/cachecheck-mmdebstrap.XXXXXX.log)
    local include
    include=$(IFS=,; echo "${pkgs[*]}")
    say "building $tag from Debian $suite ($include); log: $log"
    # merged-usr hook: merged /usr without the usrmerge package (and the perl it pulls in).
    if ! mmdebstrap --variant=essential --include="$include" \
        --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
        --aptopt='APT::Install-Recommends "false"' \
        --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/doc/*' \
        --dpkgopt='path-include=/usr/share/doc/*/copyright' \
        --dpkgopt='path-exclude=/usr/share/locale/*' \
        --dpkgopt='path-exclude=/usr/share/info/*' \
        "$@" \
        "$suite" - "deb $mirror $suite main" "deb $mirror $suite-updates main" \
        "deb $secmirror $suite-security main" 2>"$log" |
        docker import "${changes[@]}" - "$tag" >/dev/null; then
        tail -n 5 "$log" >&2
        die "building $tag failed (log: $log)"
    fi
    rm -f "$log"
}

build_base() {
    rootfs cachecheck/base:local 'CMD ["/bin/bash"]' -- libssl3 ca-certificates
}

build_mariadb() {
    rootfs cachecheck/mariadb:local \
        'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]' 'CMD ["mariadbd"]' 'EXPOSE 3306' \
        -- mariadb-server mariadb-client -- \
        --customize-hook="copy-in $repo/docker/db/entrypoint.sh /usr/local/bin" \
        --customize-hook="chroot \"\$1\" mv /usr/local/bin/entrypoint.sh /usr/local/bin/docker-entrypoint.sh" \
        --customize-hook="mkdir -p \"\$1/etc/cachecheck\"" \
        --customize-hook="copy-in $repo/docker/db/init.sql /etc/cachecheck" \
        --customize-hook="chroot \"\$1\" chmod 755 /usr/local/bin/docker-entrypoint.sh"
}

build_redis() {
    rootfs cachecheck/redis:local \
        'CMD ["redis-server", "--bind", "0.0.0.0", "--protected-mode", "no", "--save", "", "--appendonly", "no"]' \
        'EXPOSE 6379' -- redis-server
}

build_proxy() {
    exists cachecheck/base:local || die "cachecheck/proxy:local needs cachecheck/base:local (fix: scripts/build-images.sh --only base)"
    if [ -z "$bin" ]; then
        say "building the release binary (cargo build --release)"
        (cd "$repo" && ${CARGO:-cargo} build --release --bin cachecheck) >&2 ||
            die "cargo build --release failed"
        bin=${CARGO_TARGET_DIR:-$repo/target}/release/cachecheck
    fi
    [ -x "$bin" ] || die "no cachecheck binary at $bin (fix: --bin PATH)"
    local ctx
    ctx=$(mktemp -d /tmp/cachecheck-proxy-image.XXXXXX)
    strip -o "$ctx/cachecheck" "$bin" 2>/dev/null || cp "$bin" "$ctx/cachecheck"
    cp "$repo/docker/proxy/Dockerfile" "$repo/docker/proxy/toxiproxy-cli" "$ctx/"
    say "building cachecheck/proxy:local from $bin"
    local built sha
    sha=$(sha256sum <"$bin" | cut -d' ' -f1)
    if ! built=$(DOCKER_BUILDKIT=0 docker build -q --label "cachecheck.binary-sha256=$sha" \
        -t cachecheck/proxy:local "$ctx" 2>&1); then
        rm -rf "$ctx"
        echo "$built" >&2
        die "docker build of cachecheck/proxy:local failed"
    fi
    rm -rf "$ctx"
    local out check=cachecheck-proxy-check-$$
    if ! out=$(timeout 30 docker run --rm --name "$check" --network none cachecheck/proxy:local \
        cachecheck proxy-server --help 2>&1); then
        docker rm -f "$check" >/dev/null 2>&1 || true
        docker image rm cachecheck/proxy:local >/dev/null 2>&1 || true
        die "'cachecheck proxy-server --help' does not work in the image (this binary has no proxy server: $(echo "$out" | head -n 1)); image removed (fix: build a cachecheck with the proxy-server command, or --bin PATH)"
    fi
}

# Whether the proxy image holds the binary given with --bin (true without --bin).
proxy_current() {
    [ -z "$bin" ] && return 0
    [ -x "$bin" ] || die "no cachecheck binary at $bin (fix: --bin PATH)"
    local have
    have=$(docker image inspect -f '{{index .Config.Labels "cachecheck.binary-sha256"}}' cachecheck/proxy:local)
    [ "$have" = "$(sha256sum <"$bin" | cut -d' ' -f1)" ]
}

for name in base mariadb redis proxy; do
    wanted "$name" || continue
    tag=cachecheck/$name:local
    if exists "$tag" && [ "$force" = 0 ] && { [ "$name" != proxy ] || proxy_current; }; then
        say "$tag exists (--force rebuilds it)"
        continue
    fi
    old=$(docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)
    start=$(date +%s)
    "build_$name"
    # The image it replaces, now untagged, goes (unless a container still uses it).
    if [ -n "$old" ] && [ "$old" != "$(docker image inspect -f '{{.Id}}' "$tag")" ]; then
        docker image rm "$old" >/dev/null 2>&1 || true
    fi
    note "$tag" "$(( $(date +%s) - start ))"
done
for line in "${report[@]}"; do say "built $line"; done
exit 0
