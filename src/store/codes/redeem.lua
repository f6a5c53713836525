-- Uses up an authorization code in one atomic step. KEYS: the code's hash key. ARGV: how many
-- seconds a used code is kept, so that a replay is recognised.
-- Returns {'fresh', data}, {'replayed', family id}, or nil for an unknown code.
local used = redis.call('HGET', KEYS[1], 'used')
if not used then return false end
if used == '1' then return {'replayed', redis.call('HGET', KEYS[1], 'family')} end
redis.call('HSET', KEYS[1], 'used', '1')
redis.call('EXPIRE', KEYS[1], ARGV[1])
return {'fresh', redis.call('HGET', KEYS[1], 'data')}
