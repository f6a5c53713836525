-- Ends a session. KEYS: family hash. ARGV: reason, now. Returns 1 if it was active.
if redis.call('HGET', KEYS[1], 'status') ~= 'active' then return 0 end
redis.call('HSET', KEYS[1], 'status', 'revoked', 'revoked_reason', ARGV[1], 'revoked_at', ARGV[2])
return 1
