-- tag-deleted (rockscache's algorithm): mark an entry deleted instead of deleting it. The
-- value stays; lockUntil 0 lets the next reader take the lock at once; the owner is cleared so
-- that no refresh in flight can store; the entry expires after the delay. A missing entry is
-- created with lockUntil only.
-- KEYS[1] the entry. ARGV[1] the delay in ms.
redis.call('HSET', KEYS[1], 'lockUntil', 0)
redis.call('HDEL', KEYS[1], 'lockOwner')
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
