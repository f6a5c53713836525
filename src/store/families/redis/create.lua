-- Creates a family. KEYS: its hash. ARGV: user_id, client_id, scope,
-- auth_time, absolute_expires_at, now, first token hash ('' for none), expire_at (the key TTL: the
-- idle or absolute expiry, whichever is first), signin_id ('' for none).
-- The hash: u user, c client, s scope, a auth_time, x absolute expiry, r rotated_at, g generation,
-- h current token hash, p previous, i sign-in session, e why it ended and t when (absent: active),
-- and one field per token hash the family ever issued (43 characters, so never a name above),
-- holding when it was replaced: '' while it is current.
redis.call('HSET', KEYS[1], 'u', ARGV[1], 'c', ARGV[2], 's', ARGV[3], 'a', ARGV[4], 'x', ARGV[5],
  'r', ARGV[6], 'g', 0)
if ARGV[7] ~= '' then redis.call('HSET', KEYS[1], 'h', ARGV[7], ARGV[7], '') end
if ARGV[9] ~= '' then redis.call('HSET', KEYS[1], 'i', ARGV[9]) end
redis.call('EXPIREAT', KEYS[1], ARGV[8])
return 1
