-- Whether an access token may be honoured. KEYS: its denylist key, and for a user token its
-- family hash (same hash slot). ARGV: now. The denylist value is the token's expiry, compared with
-- the application clock; the key's own TTL only reclaims memory.
local denied_until = redis.call('GET', KEYS[1])
if denied_until and tonumber(denied_until) > tonumber(ARGV[1]) then return 0 end
if KEYS[2] and redis.call('HGET', KEYS[2], 'status') ~= 'active' then return 0 end
return 1
