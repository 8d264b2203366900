-- tag-deleted (rockscache's algorithm): give the lock up after a failed database read (if
-- still the owner): the entry becomes lockable at once and expires after the lock expiry.
-- KEYS[1] the entry. ARGV[1] owner, ARGV[2] expiry in ms.
if redis.call('HGET', KEYS[1], 'lockOwner') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'lockUntil', 0)
  redis.call('HDEL', KEYS[1], 'lockOwner')
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 1
