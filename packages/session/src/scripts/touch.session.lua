-- Renews a session's TTL without rewriting its value, unless it was renewed recently.
-- KEYS[1]  the session key
-- ARGV[1]  full TTL, integer milliseconds
-- ARGV[2]  touch interval, integer milliseconds: skip while |full TTL - PTTL| < this
-- Returns  1 when the TTL was reset, 0 when the touch was skipped, -2 when the key is missing
local pttl = redis.call('PTTL', KEYS[1])
if pttl == -2 then
  return -2
end
local full = tonumber(ARGV[1])
if pttl >= 0 and math.abs(full - pttl) < tonumber(ARGV[2]) then
  return 0
end
redis.call('PEXPIRE', KEYS[1], full)
return 1
