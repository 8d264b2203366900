-- tag-deleted (rockscache's algorithm): read an entry {value, lockUntil, lockOwner}, taking
-- the refresh lock when the entry is empty, or marked deleted, or its lock has expired.
-- KEYS[1] the entry. ARGV[1] now (Unix ms), ARGV[2] lock until (Unix ms), ARGV[3] owner.
-- Returns {value or nil, 'LOCKED'} when the caller now owns the lock, else {value or nil,
-- lockUntil or nil} (a lockUntil means another owner is refreshing it).
local value = redis.call('HGET', KEYS[1], 'value')
local lock_until = redis.call('HGET', KEYS[1], 'lockUntil')
local stale = lock_until and tonumber(lock_until) < tonumber(ARGV[1])
local empty = (not lock_until) and (not value)
if stale or empty then
  redis.call('HSET', KEYS[1], 'lockUntil', ARGV[2], 'lockOwner', ARGV[3])
  return {value, 'LOCKED'}
end
return {value, lock_until}
