-- versioned: compare-and-set of a cache entry {ver, val} (no `val`: a tombstone).
-- KEYS[1] the entry. ARGV[1] version, ARGV[2] value ('' for a tombstone), ARGV[3] TTL in ms
-- (0: none).
-- A newer version is never replaced; at the same version only a value may replace its own
-- tombstone (a fill after the write that left it).
-- Returns {1 if applied else 0, the version found (-1: none)}.
local ver = tonumber(ARGV[1])
local cur = redis.call('HGET', KEYS[1], 'ver')
if cur then
  cur = tonumber(cur)
  if cur > ver then
    return {0, cur}
  end
  if cur == ver and (ARGV[2] == '' or redis.call('HEXISTS', KEYS[1], 'val') == 1) then
    return {0, cur}
  end
else
  cur = -1
end
redis.call('DEL', KEYS[1])
if ARGV[2] == '' then
  redis.call('HSET', KEYS[1], 'ver', ARGV[1])
else
  redis.call('HSET', KEYS[1], 'ver', ARGV[1], 'val', ARGV[2])
end
if tonumber(ARGV[3]) > 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return {1, cur}
