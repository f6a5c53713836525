-- Rotation and reuse detection in one atomic step. KEYS: family hash, issued-token set (one hash
-- slot). ARGV: presented hash, successor hash, client_id, now, idle lifetime, reuse leeway.
-- Returns {outcome, family fields...} with outcome 'rotated' or 'reused', or {'invalid'}.
local f = redis.call('HMGET', KEYS[1], 'client_id', 'status', 'absolute_expires_at', 'rotated_at',
  'current', 'previous', 'generation')
if not f[1] then return {'invalid'} end
-- Only hashes this family issued count: a made-up token is unknown, never reuse.
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 0 then return {'invalid'} end
local now, idle, leeway = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local absolute, rotated, generation = tonumber(f[3]), tonumber(f[4]), tonumber(f[7])
-- Another client's token, an ended session or an expired chain: refuse and change nothing.
if f[1] ~= ARGV[3] or f[2] ~= 'active' or now >= math.min(rotated + idle, absolute) then
  return {'invalid'}
end

local function family(outcome)
  local fields = redis.call('HMGET', KEYS[1], 'id', 'user_id', 'client_id', 'scope', 'auth_time',
    'absolute_expires_at', 'rotated_at', 'generation', 'status', 'signin_id')
  table.insert(fields, 1, outcome)
  return fields
end

if f[5] == ARGV[1] then
  redis.call('HSET', KEYS[1], 'previous', ARGV[1], 'current', ARGV[2],
    'generation', generation + 1, 'rotated_at', now)
  redis.call('SADD', KEYS[2], ARGV[2])
  local expire_at = math.min(now + idle, absolute)
  redis.call('EXPIREAT', KEYS[1], expire_at)
  redis.call('EXPIREAT', KEYS[2], expire_at)
  return family('rotated')
end
-- Within the leeway the token just replaced may come again (a lost response): a new successor
-- replaces the current token, so the family keeps one live chain; rotated_at stays put.
if f[6] == ARGV[1] and now < rotated + leeway then
  redis.call('HSET', KEYS[1], 'current', ARGV[2], 'generation', generation + 1)
  redis.call('SADD', KEYS[2], ARGV[2])
  return family('rotated')
end
-- An earlier token again: someone holds a copy, so the whole session ends.
redis.call('HSET', KEYS[1], 'status', 'revoked', 'revoked_reason', 'refresh token reuse',
  'revoked_at', now)
return family('reused')
