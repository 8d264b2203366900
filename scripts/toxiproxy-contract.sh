#!/usr/bin/env bash
# Runs the REST calls Toxiproxy's README documents against the server at $TOXIPROXY_URL
# (default http://127.0.0.1:8474) and prints each call's status next to the status Toxiproxy
# 2.x gives, so `cachecheck proxy-server` and a real toxiproxy-server can be compared:
#
#   TOXIPROXY_URL=http://127.0.0.1:8474 scripts/toxiproxy-contract.sh
#   VERBOSE=1 scripts/toxiproxy-contract.sh     # also print each response body
#
# It creates proxies named contract_* (upstream 127.0.0.1:9, never dialled: no traffic is sent
# through them) and deletes them at the end. POST /reset enables every proxy on the server and
# removes all toxics: do not point it at a server a test is using.
# Exit status: 0 if every status matched, 1 otherwise.
set -u

url="${TOXIPROXY_URL:-http://127.0.0.1:8474}"
url="${url%/}"
mismatches=0

# call EXPECTED METHOD PATH [JSON-BODY]
call() {
    local expected="$1" method="$2" path="$3" body="${4-}"
    local out status
    out="$(mktemp)"
    if [ -n "$body" ]; then
        status="$(curl -s -o "$out" -w '%{http_code}' -X "$method" -H 'Content-Type: application/json' \
            -d "$body" "$url$path")"
    else
        status="$(curl -s -o "$out" -w '%{http_code}' -X "$method" "$url$path")"
    fi
    local verdict="ok"
    if [ "$status" != "$expected" ]; then
        verdict="MISMATCH (Toxiproxy: $expected)"
        mismatches=$((mismatches + 1))
    fi
    printf '%s %-6s %-45s %s\n' "$status" "$method" "$path" "$verdict"
    if [ -n "${VERBOSE-}" ]; then
        sed 's/^/    /' "$out"
        echo
    fi
    rm -f "$out"
}

redis='{"name": "contract_redis", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:9"}'
latency='{"type": "latency", "attributes": {"latency": 1000}}'
toxic=/proxies/contract_redis/toxics/latency_downstream

echo "Toxiproxy contract against $url"
call 200 GET    /version
call 201 POST   /proxies "$redis"
call 409 POST   /proxies "$redis"
call 400 POST   /proxies '{"name": "contract_no_upstream"}'
call 200 GET    /proxies
call 200 GET    /proxies/contract_redis
call 404 GET    /proxies/contract_missing
call 200 POST   /proxies/contract_redis/toxics "$latency"
call 409 POST   /proxies/contract_redis/toxics "$latency"
call 400 POST   /proxies/contract_redis/toxics '{"type": "latency", "stream": "sideways"}'
call 400 POST   /proxies/contract_redis/toxics '{"type": "no_such_toxic"}'
call 200 POST   /proxies/contract_redis/toxics \
    '{"name": "cut", "type": "reset_peer", "stream": "upstream", "toxicity": 0.5, "attributes": {"timeout": 100}}'
call 200 GET    /proxies/contract_redis/toxics
call 200 GET    "$toxic"
call 200 POST   "$toxic" '{"attributes": {"jitter": 100}}'
call 200 PATCH  "$toxic" '{"toxicity": 0.5}'
call 204 DELETE "$toxic"
call 404 DELETE "$toxic"
call 404 GET    "$toxic"
call 200 POST   /proxies/contract_redis '{"enabled": false}'
call 200 POST   /proxies/contract_redis '{"enabled": true}'
call 201 POST   /populate \
    '[{"name": "contract_mysql", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:9", "enabled": false}]'
call 400 POST   /populate '[{"name": "contract_bad"}]'
call 204 POST   /reset
call 204 DELETE /proxies/contract_redis
call 204 DELETE /proxies/contract_mysql
call 404 DELETE /proxies/contract_redis

if [ "$mismatches" -ne 0 ]; then
    echo "$mismatches status(es) differ from Toxiproxy's"
    exit 1
fi
echo "all statuses match Toxiproxy's"
