-- Writes a session and, in the same atomic step, lists it in its user's index, so that no
-- interleaving with a destroy, a destroyUser or another save can leave a live session that the
-- index does not know (issue 14, item 3). On a Cluster the index is the user's index for the
-- session key's slot (see the README, "Log out everywhere"), so both keys share one slot.
-- KEYS[1]  the session key
-- KEYS[2]  the user index (a SET of session ids)
-- ARGV[1]  the session text
-- ARGV[2]  the session TTL, integer milliseconds; 0 when the session never expires
-- ARGV[3]  the session id
-- ARGV[4]  integer milliseconds the index must live at least; 0 when it never expires
-- Returns  1
if ARGV[2] == '0' then
  redis.call('SET', KEYS[1], ARGV[1])
else
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
local pttl = redis.call('PTTL', KEYS[2])
redis.call('SADD', KEYS[2], ARGV[3])
local ttl = tonumber(ARGV[4])
if ttl == 0 then
  redis.call('PERSIST', KEYS[2])
elseif pttl == -2 or (pttl >= 0 and pttl < ttl) then
  -- -2: the set did not exist before SADD; -1 (no expiry) holds a session that never expires.
  redis.call('PEXPIRE', KEYS[2], ttl)
end
return 1
