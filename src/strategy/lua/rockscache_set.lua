-- tag-deleted (rockscache's algorithm): store a refreshed value, only if the caller still owns
-- the lock (a write's mark-deleted clears the owner, so a refresh that read the database
-- before the write is dropped).
-- KEYS[1] the entry. ARGV[1] value, ARGV[2] owner, ARGV[3] expiry in ms ('': none; <= 0
-- deletes the entry, as EXPIRE does).
-- Returns 1 if stored, 0 if the lock was lost.
if redis.call('HGET', KEYS[1], 'lockOwner') ~= ARGV[2] then
  return 0
end
redis.call('HSET', KEYS[1], 'value', ARGV[1])
redis.call('HDEL', KEYS[1], 'lockUntil', 'lockOwner')
if ARGV[3] == '' then
  redis.call('PERSIST', KEYS[1])
else
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return 1
