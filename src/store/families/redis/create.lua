-- Creates a family. KEYS: family hash, issued-token set.
-- ARGV: id, user_id, client_id, scope, auth_time, absolute_expires_at, now, first token hash ('' for
-- none), expire_at (the key TTL: the idle or absolute expiry, whichever is first), signin_id ('' for
-- none).
redis.call('HSET', KEYS[1],
  'id', ARGV[1], 'user_id', ARGV[2], 'client_id', ARGV[3], 'scope', ARGV[4],
  'auth_time', ARGV[5], 'absolute_expires_at', ARGV[6], 'rotated_at', ARGV[7],
  'generation', 0, 'status', 'active', 'current', ARGV[8], 'previous', '', 'signin_id', ARGV[10])
redis.call('EXPIREAT', KEYS[1], ARGV[9])
if ARGV[8] ~= '' then
  redis.call('SADD', KEYS[2], ARGV[8])
  redis.call('EXPIREAT', KEYS[2], ARGV[9])
end
return 1
