#!/bin/sh
# Second stage of cachecheck/base (`cachecheck images build`), run in a container of the first
# stage: the packages' files are already in place (unpacked by cachecheck, /usr merged), so
# dpkg can run their maintainer scripts and register them. Then apt brings them up to date
# from bookworm-updates and bookworm-security, and every cache is emptied.
set -e
cd /var/cache/cachecheck
# --force-depends: dpkg installs them in one go and does not order them by Pre-Depends (the
# files are all there already), as debootstrap and mmdebstrap do.
if ! dpkg --install --force-depends ./*.deb >dpkg.log 2>&1; then
    tail -n 20 dpkg.log
    exit 1
fi
grep -E '^(Unpacking|Setting up) ' dpkg.log || true
cd /
rm -rf /var/cache/cachecheck
apt-get update -q
apt-get dist-upgrade -y -q
apt-get clean
rm -rf /var/lib/apt/lists/* /var/log/* /var/cache/debconf/*-old /tmp/* /root/.cache
