-- Ends a session, after the upgrade prelude. KEYS: family hash, upgrade keys. ARGV: reason, now.
-- Returns 1 if it was active.
local f = redis.call('HMGET', KEYS[1], 'u', 'e')
if not f[1] or f[2] then return 0 end
redis.call('HSET', KEYS[1], 'e', ARGV[1], 't', ARGV[2])
return 1
