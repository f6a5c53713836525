-- Prefixed to every script that touches a family. KEYS[1] is the family's hash; KEYS[2] and KEYS[3]
-- are where keyward before 2026-12-05 kept it (a hash with long field names, and a set of issued
-- token hashes), in the same hash slot. A family still in that form moves into the one hash when
-- first touched, keeping its expiry. Needed while such families can be alive: the absolute lifetime.
if redis.call('EXISTS', KEYS[2]) == 1 then
  if redis.call('EXISTS', KEYS[1]) == 0 then
    local o = redis.call('HMGET', KEYS[2], 'user_id', 'client_id', 'scope', 'auth_time',
      'absolute_expires_at', 'rotated_at', 'generation', 'status', 'current', 'previous',
      'signin_id', 'revoked_reason', 'revoked_at')
    if o[1] then
      local f = {'u', o[1], 'c', o[2], 's', o[3], 'a', o[4], 'x', o[5], 'r', o[6], 'g', o[7]}
      local function put(name, value)
        if value and value ~= '' then table.insert(f, name); table.insert(f, value) end
      end
      put('h', o[9]); put('p', o[10]); put('i', o[11])
      if o[8] ~= 'active' then put('e', o[12] or 'revoked'); put('t', o[13] or o[6]) end
      redis.call('HSET', KEYS[1], unpack(f))
      -- A long session issued thousands: a few hundred per call keeps within unpack's limit.
      local issued = redis.call('SMEMBERS', KEYS[3])
      for first = 1, #issued, 256 do
        local batch = {}
        for i = first, math.min(first + 255, #issued) do
          table.insert(batch, issued[i]); table.insert(batch, '')
        end
        redis.call('HSET', KEYS[1], unpack(batch))
      end
      local ttl = redis.call('PTTL', KEYS[2])
      if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
    end
  end
  redis.call('DEL', KEYS[2], KEYS[3])
end
