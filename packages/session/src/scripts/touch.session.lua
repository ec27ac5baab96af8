-- Renews a session's TTL without rewriting its value, unless it was renewed recently, and then
-- renews its user index with it in the same step.
-- KEYS[1]  the session key
-- KEYS[2]  optional: the user index holding the session (same slot on a Cluster)
-- ARGV[1]  full TTL, integer milliseconds
-- ARGV[2]  touch interval, integer milliseconds: skip while |full TTL - PTTL| < this
-- ARGV[3]  with KEYS[2]: the session id
-- ARGV[4]  with KEYS[2]: integer milliseconds the index must live at least
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
if KEYS[2] then
  local ipttl = redis.call('PTTL', KEYS[2])
  redis.call('SADD', KEYS[2], ARGV[3])
  local ttl = tonumber(ARGV[4])
  if ipttl == -2 or (ipttl >= 0 and ipttl < ttl) then
    redis.call('PEXPIRE', KEYS[2], ttl)
  end
end
return 1
