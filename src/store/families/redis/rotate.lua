-- Rotation and reuse detection in one atomic step, after the upgrade prelude. KEYS: family hash,
-- upgrade keys (one hash slot). ARGV: presented hash, successor hash, client_id, now, idle
-- lifetime, reuse leeway. Returns {outcome, family fields...} with outcome 'rotated' or 'reused',
-- or {'invalid'}.
local f = redis.call('HMGET', KEYS[1], 'c', 'e', 'x', 'r', 'h', 'p', 'g')
if not f[1] then return {'invalid'} end
-- Only hashes this family issued count: a made-up token is unknown, never reuse.
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return {'invalid'} end
local now, idle, leeway = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local absolute, rotated, generation = tonumber(f[3]), tonumber(f[4]), tonumber(f[7])
-- Another client's token, an ended session or an expired chain: refuse and change nothing.
if f[1] ~= ARGV[3] or f[2] or now >= math.min(rotated + idle, absolute) then
  return {'invalid'}
end

local function family(outcome)
  local fields = redis.call('HMGET', KEYS[1], 'u', 'c', 's', 'a', 'x', 'r', 'g', 'e', 'i')
  table.insert(fields, 1, outcome)
  return fields
end

if f[5] == ARGV[1] then
  redis.call('HSET', KEYS[1], 'p', ARGV[1], 'h', ARGV[2], 'g', generation + 1, 'r', now, ARGV[2], '')
  redis.call('EXPIREAT', KEYS[1], math.min(now + idle, absolute))
  return family('rotated')
end
-- Within the leeway the token just replaced may come again (a lost response): a new successor
-- replaces the current token, so the family keeps one live chain; rotated_at stays put.
if f[6] == ARGV[1] and now < rotated + leeway then
  redis.call('HSET', KEYS[1], 'h', ARGV[2], 'g', generation + 1, ARGV[2], '')
  return family('rotated')
end
-- An earlier token again: someone holds a copy, so the whole session ends.
redis.call('HSET', KEYS[1], 'e', 'refresh token reuse', 't', now)
return family('reused')
