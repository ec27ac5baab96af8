-- tollgate fixedWindow: one decision, atomically (SEMANTICS.md, fixedWindow).
--
-- KEYS[1]  state key, a hash with one field: "<window index>" = count (cost units admitted in
--          that window, floor(now / W) = window index); absent = untouched.
-- ARGV[1]  limit L, cost units per window (positive integer)
-- ARGV[2]  windowMs W, window length in milliseconds (positive integer)
-- ARGV[3]  cost of this request, in cost units (positive integer, <= L)
-- ARGV[4]  optional: now, integer epoch milliseconds of an injected test clock;
--          absent = the server's TIME (sec * 1000 + floor(usec / 1000)).
--
-- Reply (integers only, each below 2^53):
--   admitted, when (resetMs + 1) * (L + 1) < 2^53: one integer resetMs * (L + 1) + remaining;
--   otherwise the array {allowed (1|0), remaining, resetMs, retryAfterMs}.
-- (The limit is the caller's own; one integer is much cheaper for Redis to reply than an array.)
--
-- Cost: HINCRBY of this window's field, which reads and counts in one call with no number
-- parsing or formatting in Lua. The first admission of a window also sets PEXPIRE to the
-- window's end (and drops another window's field, if the key still holds one); later admissions
-- leave the TTL alone, as on the server's clock it already is the window's end (with an injected
-- clock every admission sets it again). A denial takes the cost back with a
-- second HINCRBY and never touches the TTL.
--
-- Invariant: the hash holds at most one field, so a state from any other window (earlier, or
-- later under a clock that stepped back) counts as 0, as SEMANTICS.md says.

local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local now = ARGV[4]
if now then
  now = tonumber(now)
else
  local t = redis.call('TIME')
  now = t[1] * 1000 + math.floor(t[2] / 1000)
end

local elapsed = now % window
local index = (now - elapsed) / window
local untilEnd = window - elapsed

-- ARGV[3] goes in as sent: Redis parses it in C, Lua would format the number back to text.
local count = redis.call('HINCRBY', KEYS[1], index, ARGV[3])
if count <= limit then
  if count == cost then
    -- First admission of this window (a field never holds 0): the key is new, or holds the
    -- field of another window, which must go.
    if redis.call('HLEN', KEYS[1]) > 1 then
      redis.call('DEL', KEYS[1])
      redis.call('HSET', KEYS[1], index, cost)
    end
    redis.call('PEXPIRE', KEYS[1], untilEnd)
  elseif ARGV[4] then
    -- An injected clock is not the clock Redis expires keys on: restate the TTL from this
    -- request's now, so the key never outlives the window's end as the caller's clock sees it.
    redis.call('PEXPIRE', KEYS[1], untilEnd)
  end
  local m = limit + 1
  if (untilEnd + 1) * m < 9007199254740992 then
    return untilEnd * m + limit - count
  end
  return { 1, limit - count, untilEnd, 0 }
end

-- Denied: count > 0 before this request (cost <= L), so the field existed; restore it.
redis.call('HINCRBY', KEYS[1], index, -cost)
return { 0, limit - count + cost, untilEnd, untilEnd }
