"""A cache-aside key-value service in Flask + redis-py + PyMySQL, written against cachecheck's
service contract (docs/service.md) so that cachecheck can test it.

    GET /kv/<key>  -> 200 {"value": <int or null>, "source": "cache" | "db"}
    PUT /kv/<key>  {"value": <int>} -> 204; 409 when it certainly did not write
    GET /health    -> 200

CACHE_MODE picks the write path (the seed article's strategies):
    delete-then-db   delete the cache entry, then write the database (3.3; racy)
    db-then-delete   write the database, then delete the cache entry (3.4; racy)
    double-delete    delete, write, delete again DOUBLE_DELETE_DELAY_MS later (4.1)
    versioned        the cache stores the database's version; a write leaves a tombstone with
                     its version and a fill never replaces a newer version (correct)

Each step has its own Redis pool (CACHECHECK_REDIS_READ_URL, _FILL_URL, _WRITE_URL) so that
cachecheck can fault one step at a time. At start it prints its mode and delay (service.log
shows which delay each point of `cachecheck tune-delay`'s sweep ran with).
"""

import json
import logging
import os
import threading

import pymysql
import redis
from flask import Flask, jsonify, request

MODE = os.environ.get("CACHE_MODE", "db-then-delete")
DELAY_MS = int(os.environ.get("DOUBLE_DELETE_DELAY_MS", "500"))
TTL_MS = int(os.environ.get("CACHECHECK_TTL_MS", "60000"))
# The register, or the service's own table (cachecheck's `table`, `key_column`, `value_column`).
TABLE = os.environ.get("CACHECHECK_TABLE", "register")
KEY = os.environ.get("CACHECHECK_KEY_COLUMN", "k")
VALUE = os.environ.get("CACHECHECK_VALUE_COLUMN", "v")
MODES = ("delete-then-db", "db-then-delete", "double-delete", "versioned")
if MODE not in MODES:
    raise SystemExit(f"CACHE_MODE={MODE!r}: one of {', '.join(MODES)}")


def pool(var):
    url = os.environ.get(var) or os.environ["CACHECHECK_REDIS_URL"]
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


cache_read = pool("CACHECHECK_REDIS_READ_URL")
cache_fill = pool("CACHECHECK_REDIS_FILL_URL")
cache_write = pool("CACHECHECK_REDIS_WRITE_URL")

# A fill or tombstone replaces the entry only if it is not older than what is cached: a stale
# fill (read before a write) finds the write's newer tombstone and is refused.
CAS = """
local cur = redis.call('GET', KEYS[1])
local ver = tonumber(ARGV[1])
if cur then
  local ok, c = pcall(cjson.decode, cur)
  if ok and type(c) == 'table' and c.version then
    local cv = tonumber(c.version)
    if cv > ver then return 0 end
    if cv == ver and (ARGV[3] == 'tomb' or c.value ~= nil) then return 0 end
  end
end
if tonumber(ARGV[4]) > 0 then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[4])
else
  redis.call('SET', KEYS[1], ARGV[2])
end
return 1
"""
cas_fill = cache_fill.register_script(CAS)
cas_tomb = cache_write.register_script(CAS)

local = threading.local()


def db():
    """This thread's database connection (PyMySQL connections are not thread-safe)."""
    if getattr(local, "conn", None) is None:
        local.conn = pymysql.connect(
            host=os.environ["CACHECHECK_DB_HOST"],
            port=int(os.environ["CACHECHECK_DB_PORT"]),
            user=os.environ["CACHECHECK_DB_USER"],
            password=os.environ.get("CACHECHECK_DB_PASSWORD", ""),
            database=os.environ["CACHECHECK_DB_NAME"],
            autocommit=True,
            connect_timeout=2,
            read_timeout=2,
            write_timeout=2,
        )
    return local.conn


def db_query(sql, args):
    try:
        with db().cursor() as c:
            c.execute(sql, args)
            return c.fetchone()
    except Exception:
        local.conn = None  # reconnect next time
        raise


def db_write(key, value):
    """Writes the register; returns the version the database assigned (a trigger does), in
    versioned mode."""
    try:
        conn = db()
        with conn.cursor() as c:
            c.execute("BEGIN")
            c.execute(f"UPDATE {TABLE} SET {VALUE} = %s WHERE {KEY} = %s", (value, key))
            version = None
            if MODE == "versioned":  # the register's version column
                c.execute(f"SELECT version FROM {TABLE} WHERE {KEY} = %s", (key,))
                (version,) = c.fetchone()
            c.execute("COMMIT")
            return version
    except Exception:
        local.conn = None
        raise


def ckey(key):
    return f"cc:{key}"


def px():
    return TTL_MS if TTL_MS > 0 else None


app = Flask(__name__)
logging.getLogger("werkzeug").setLevel(logging.ERROR)


@app.get("/health")
def health():
    return "ok"


@app.get("/kv/<int:key>")
def read(key):
    try:
        raw = cache_read.get(ckey(key))
    except redis.RedisError as e:
        return f"cache read: {e}", 503
    if MODE == "versioned":
        entry = json.loads(raw) if raw else {}
        if "value" in entry:
            return jsonify(value=entry["value"], source="cache")
        row = db_query(f"SELECT {VALUE}, version FROM {TABLE} WHERE {KEY} = %s", (key,))
        value, version = row if row else (None, 0)
        try:
            cas_fill(keys=[ckey(key)], args=[version, json.dumps({"value": value, "version": version}), "fill", TTL_MS])
        except redis.RedisError:
            pass  # a failed fill only costs a miss
        return jsonify(value=value, source="db")
    if raw is not None:
        return jsonify(value=int(raw), source="cache")
    row = db_query(f"SELECT {VALUE} FROM {TABLE} WHERE {KEY} = %s", (key,))
    value = row[0] if row else None
    if value is not None:
        try:
            cache_fill.set(ckey(key), value, px=px())
        except redis.RedisError:
            pass
    return jsonify(value=value, source="db")


def delete_later(key):
    try:
        cache_write.delete(ckey(key))
    except redis.RedisError:
        pass


@app.put("/kv/<int:key>")
def write(key):
    value = int(request.get_json(force=True)["value"])
    if MODE in ("delete-then-db", "double-delete"):
        try:
            cache_write.delete(ckey(key))
        except redis.RedisError as e:
            return f"cache delete failed, write refused: {e}", 409
    try:
        version = db_write(key, value)
    except pymysql.err.MySQLError as e:
        # The server may have committed before the connection broke: unknown.
        return f"db: {e}", 500
    if MODE == "db-then-delete":
        delete_later(key)
    elif MODE == "double-delete":
        threading.Timer(DELAY_MS / 1000.0, delete_later, args=(key,)).start()
    elif MODE == "versioned":
        try:
            cas_tomb(keys=[ckey(key)], args=[version, json.dumps({"version": version}), "tomb", TTL_MS])
        except redis.RedisError:
            pass
    return "", 204


if __name__ == "__main__":
    host, port = os.environ["CACHECHECK_HTTP_ADDR"].rsplit(":", 1)
    print(f"listening on {host}:{port}: CACHE_MODE={MODE} DOUBLE_DELETE_DELAY_MS={DELAY_MS}", flush=True)
    app.run(host=host, port=int(port), threaded=True)
