// A cache-aside key-value service in Node.js (http module + node-redis + mysql), written
// against cachecheck's service contract (docs/service.md) so that cachecheck can test it.
//
//   GET /kv/:key  -> 200 {"value": <int or null>, "source": "cache" | "db"}
//   PUT /kv/:key  {"value": <int>} -> 204; 409 when it certainly did not write
//   GET /health   -> 200
//
// CACHE_MODE picks the write path (the seed article's strategies):
//   delete-then-db   delete the cache entry, then write the database (3.3; racy)
//   db-then-delete   write the database, then delete the cache entry (3.4; racy)
//   double-delete    delete, write, delete again DOUBLE_DELETE_DELAY_MS later (4.1)
//   versioned        the cache stores the database's version; a write leaves a tombstone with
//                    its version and a fill never replaces a newer version (correct)
//
// Each step has its own Redis client (CACHECHECK_REDIS_READ_URL, _FILL_URL, _WRITE_URL) so that
// cachecheck can fault one step at a time. Once listening it prints its mode and delay
// (service.log shows which delay each point of `cachecheck tune-delay`'s sweep ran with).
'use strict';
// Debian installs node-redis and mysql (and their dependencies) here.
process.env.NODE_PATH = [process.env.NODE_PATH, '/usr/share/nodejs', '/usr/lib/nodejs'].filter(Boolean).join(':');
require('module').Module._initPaths();
const http = require('http');
const mysql = require('mysql');
const { createClient } = require('redis');

const env = process.env;
const MODE = env.CACHE_MODE || 'db-then-delete';
const DELAY_MS = Number(env.DOUBLE_DELETE_DELAY_MS || 500);
const TTL_MS = Number(env.CACHECHECK_TTL_MS || 60000);
const TABLE = env.CACHECHECK_TABLE || 'register';
const MODES = ['delete-then-db', 'db-then-delete', 'double-delete', 'versioned'];
if (!MODES.includes(MODE)) {
  console.error(`CACHE_MODE=${MODE}: one of ${MODES.join(', ')}`);
  process.exit(2);
}

// A fill or tombstone replaces the entry only if it is not older than what is cached: a stale
// fill (read before a write) finds the write's newer tombstone and is refused.
const CAS = `
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
return 1`;

function redisPool(name) {
  const c = createClient({
    url: env[name] || env.CACHECHECK_REDIS_URL,
    disableOfflineQueue: true,
    socket: { connectTimeout: 2000, reconnectStrategy: () => 50 },
  });
  c.on('error', () => {}); // reconnects by itself; commands meanwhile fail
  return c;
}
const cacheRead = redisPool('CACHECHECK_REDIS_READ_URL');
const cacheFill = redisPool('CACHECHECK_REDIS_FILL_URL');
const cacheWrite = redisPool('CACHECHECK_REDIS_WRITE_URL');

function timed(p, ms = 2000) {
  let t;
  const timeout = new Promise((_, reject) => {
    t = setTimeout(() => reject(new Error('redis timed out')), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(t));
}

const db = mysql.createPool({
  host: env.CACHECHECK_DB_HOST,
  port: Number(env.CACHECHECK_DB_PORT),
  user: env.CACHECHECK_DB_USER,
  password: env.CACHECHECK_DB_PASSWORD || '',
  database: env.CACHECHECK_DB_NAME,
  connectionLimit: 32,
  connectTimeout: 2000,
  acquireTimeout: 2000,
  multipleStatements: true,
});

function query(sql, args) {
  return new Promise((resolve, reject) => {
    db.query({ sql, values: args, timeout: 2000 }, (err, rows) => (err ? reject(err) : resolve(rows)));
  });
}

// Writes the register; resolves to the version the database assigned (a trigger does).
async function dbWrite(key, value) {
  const results = await query(
    `START TRANSACTION; UPDATE ${TABLE} SET v = ? WHERE k = ?; SELECT version FROM ${TABLE} WHERE k = ?; COMMIT`,
    [value, key, key],
  );
  return results[2][0].version;
}

const ckey = (key) => `cc:${key}`;
const ttlArgs = () => (TTL_MS > 0 ? { PX: TTL_MS } : {});
const cas = (client, key, version, payload, kind) =>
  timed(client.eval(CAS, { keys: [ckey(key)], arguments: [String(version), JSON.stringify(payload), kind, String(TTL_MS)] }));

async function read(key) {
  const raw = await timed(cacheRead.get(ckey(key)));
  if (MODE === 'versioned') {
    const entry = raw ? JSON.parse(raw) : {};
    if ('value' in entry) return { value: entry.value, source: 'cache' };
    const rows = await query(`SELECT v, version FROM ${TABLE} WHERE k = ?`, [key]);
    const value = rows.length ? rows[0].v : null;
    const version = rows.length ? rows[0].version : 0;
    await cas(cacheFill, key, version, { value, version }, 'fill').catch(() => {});
    return { value, source: 'db' };
  }
  if (raw !== null) return { value: Number(raw), source: 'cache' };
  const rows = await query(`SELECT v FROM ${TABLE} WHERE k = ?`, [key]);
  const value = rows.length ? rows[0].v : null;
  if (value !== null) await timed(cacheFill.set(ckey(key), String(value), ttlArgs())).catch(() => {});
  return { value, source: 'db' };
}

const del = (key) => timed(cacheWrite.del(ckey(key)));

// Resolves to the HTTP status of the write.
async function write(key, value) {
  if (MODE === 'delete-then-db' || MODE === 'double-delete') {
    try {
      await del(key);
    } catch (e) {
      return 409; // nothing written
    }
  }
  let version;
  try {
    version = await dbWrite(key, value);
  } catch (e) {
    return 500; // the server may have committed before the connection broke: unknown
  }
  if (MODE === 'db-then-delete') await del(key).catch(() => {});
  else if (MODE === 'double-delete') setTimeout(() => del(key).catch(() => {}), DELAY_MS);
  else if (MODE === 'versioned') await cas(cacheWrite, key, version, { version }, 'tomb').catch(() => {});
  return 204;
}

function body(req) {
  return new Promise((resolve, reject) => {
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', () => resolve(data));
    req.on('error', reject);
  });
}

const server = http.createServer(async (req, res) => {
  const m = /^\/kv\/(-?\d+)$/.exec(req.url);
  try {
    if (req.method === 'GET' && req.url === '/health') {
      res.writeHead(200).end('ok');
    } else if (m && req.method === 'GET') {
      const r = await read(Number(m[1]));
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(r));
    } else if (m && req.method === 'PUT') {
      const { value } = JSON.parse(await body(req));
      res.writeHead(await write(Number(m[1]), value)).end();
    } else {
      res.writeHead(404).end();
    }
  } catch (e) {
    res.writeHead(503).end(String(e.message));
  }
});
server.keepAliveTimeout = 60000;

Promise.all([cacheRead.connect(), cacheFill.connect(), cacheWrite.connect()]).then(() => {
  const [host, port] = env.CACHECHECK_HTTP_ADDR.split(':');
  server.listen(Number(port), host, () => {
    console.log(`listening on ${env.CACHECHECK_HTTP_ADDR}: CACHE_MODE=${MODE} DOUBLE_DELETE_DELAY_MS=${DELAY_MS}`);
  });
});
