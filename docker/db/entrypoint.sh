#!/bin/sh
# Entry point of cachecheck/mariadb:local (`cachecheck images build`), shaped like the official
# mysql and mariadb images': arguments that start with '-' are options of the server.
#
# The data directory is initialised on first start if the image has none, and root may log in
# over TCP from anywhere without a password (the harness's login; this is a throw-away test
# database published on 127.0.0.1 only, never expose it).
set -e
if [ $# -eq 0 ] || [ "${1#-}" != "$1" ]; then
    set -- mariadbd "$@"
fi
if [ "$1" != mariadbd ] && [ "$1" != mysqld ]; then
    exec "$@"
fi
shift
datadir=/var/lib/mysql
mkdir -p "$datadir" /run/mysqld
chown mysql:mysql "$datadir" /run/mysqld
if [ ! -d "$datadir/mysql" ]; then
    if ! mariadb-install-db --user=mysql --datadir="$datadir" \
        --auth-root-authentication-method=normal --skip-test-db >/tmp/install-db.log 2>&1; then
        cat /tmp/install-db.log >&2
        exit 1
    fi
fi
exec mariadbd --user=mysql --datadir="$datadir" --bind-address=0.0.0.0 \
    --init-file=/etc/cachecheck/init.sql "$@"
