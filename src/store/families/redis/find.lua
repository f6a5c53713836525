-- The family of an issued refresh token. KEYS: family hash, issued-token set. ARGV: token hash.
-- Returns the family fields and its current hash, or nil for a token the family never issued.
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 0 then return false end
local fields = redis.call('HMGET', KEYS[1], 'id', 'user_id', 'client_id', 'scope', 'auth_time',
  'absolute_expires_at', 'rotated_at', 'generation', 'status', 'signin_id', 'current')
if not fields[1] then return false end
return fields
