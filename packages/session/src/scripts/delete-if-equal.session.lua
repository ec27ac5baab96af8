-- Deletes a session only if it still holds the value the caller read and checked, so that
-- destroyUser never deletes a session that was rewritten (for another user) in between.
-- KEYS[1]  the session key
-- ARGV[1]  the exact stored text that was read
-- Returns  1 when deleted, 0 when the value changed or the key is gone
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
