-- Adds a session id to its user's index and makes the index live at least as long as it.
-- The session key is in another Cluster slot, so it cannot be written by this script; the
-- caller writes the index first so that a session never outlives the index that revokes it.
-- KEYS[1]  the user index (a SET of session ids)
-- ARGV[1]  the session id
-- ARGV[2]  integer milliseconds the index must live at least; 0 when the session never expires
-- Returns  1
local pttl = redis.call('PTTL', KEYS[1])
redis.call('SADD', KEYS[1], ARGV[1])
local ttl = tonumber(ARGV[2])
if ttl == 0 then
  redis.call('PERSIST', KEYS[1])
elseif pttl == -2 or (pttl >= 0 and pttl < ttl) then
  -- -2: the set did not exist before SADD; -1 (no expiry) holds a session that never expires.
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return 1
