-- A family, after the upgrade prelude. KEYS: family hash, upgrade keys. ARGV: a token hash the
-- family must have issued, or '' for any. Returns its fields and current hash, or nil.
if ARGV[1] ~= '' and redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return false end
local fields = redis.call('HMGET', KEYS[1], 'u', 'c', 's', 'a', 'x', 'r', 'g', 'e', 'i', 'h')
if not fields[1] then return false end
return fields
