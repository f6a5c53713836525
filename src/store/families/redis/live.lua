-- Whether an access token may be honoured. KEYS: its denylist key, and for a user token its
-- family's hash and that family's hash before 2026-12-05 (one hash slot; read, not upgraded).
-- ARGV: now. The denylist value is the token's expiry, compared with the application clock; the
-- key's own TTL only reclaims memory.
local denied_until = redis.call('GET', KEYS[1])
if denied_until and tonumber(denied_until) > tonumber(ARGV[1]) then return 0 end
if not KEYS[2] then return 1 end
local f = redis.call('HMGET', KEYS[2], 'u', 'e')
if f[1] then return f[2] and 0 or 1 end
return redis.call('HGET', KEYS[3], 'status') == 'active' and 1 or 0
