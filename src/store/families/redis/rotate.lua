-- Rotation and reuse detection in one atomic step, after the upgrade prelude. KEYS: family hash,
-- upgrade keys (one hash slot). ARGV: presented hash, successor hash, client_id, now, idle
-- lifetime, reuse leeway. Returns {outcome, family fields...} with outcome 'rotated' or 'reused',
-- or {'invalid'}.
local f = redis.call('HMGET', KEYS[1], 'c', 'e', 'x', 'r', 'h', 'p', 'g')
if not f[1] then return {'invalid'} end
-- Only hashes this family issued count: a made-up token is unknown, never reuse. Each one's value
-- is when it stopped being current ('' while current, or if that was before 2026-12-06).
local replaced = redis.call('HGET', KEYS[1], ARGV[1])
if not replaced then return {'invalid'} end
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

-- The current token, or one replaced less than the leeway ago (a lost response, or a stale
-- duplicate of a request that ran late): it gets a successor, which becomes the one current
-- token; the token it replaces is stamped with the time, which starts its own leeway.
-- A previous token replaced before its time was kept falls back to the rotation's time, and is
-- stamped with it, so the rotation below (which moves 'r') cannot restart its window. Fields are
-- set in order: for the current token the later `f[5], now` wins.
if replaced == '' and f[6] == ARGV[1] then replaced = f[4] end
if f[5] == ARGV[1] or (replaced ~= '' and now < tonumber(replaced) + leeway) then
  redis.call('HSET', KEYS[1], 'p', ARGV[1], 'h', ARGV[2], 'g', generation + 1, 'r', now,
    ARGV[1], replaced, ARGV[2], '', f[5], now)
  redis.call('EXPIREAT', KEYS[1], math.min(now + idle, absolute))
  return family('rotated')
end
-- A token replaced earlier than that: someone holds a copy, so the whole session ends.
redis.call('HSET', KEYS[1], 'e', 'refresh token reuse', 't', now)
return family('reused')
