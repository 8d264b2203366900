-- lease: read a key, or take the lease on a miss (Facebook memcache leases).
-- KEYS[1] the value key, KEYS[2] its lease key.
-- ARGV[1] a fresh token, ARGV[2] the lease's lifetime in ms.
-- Returns {'hit', value} | {'lease', token} (the caller must fill) | {'wait', holder}.
local value = redis.call('GET', KEYS[1])
if value then
  return {'hit', value}
end
local holder = redis.call('GET', KEYS[2])
if holder then
  return {'wait', holder}
end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
return {'lease', ARGV[1]}
