-- lease: fill a key, only while the caller's lease token is the current one (a write's delete
-- removes the token, so a fill that read the database before the write is refused).
-- KEYS[1] the value key, KEYS[2] its lease key.
-- ARGV[1] the token, ARGV[2] the value, ARGV[3] the value's TTL in ms (0: none).
-- Returns 1 if filled, 0 if refused.
if redis.call('GET', KEYS[2]) ~= ARGV[1] then
  return 0
end
if tonumber(ARGV[3]) > 0 then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
else
  redis.call('SET', KEYS[1], ARGV[2])
end
redis.call('DEL', KEYS[2])
return 1
