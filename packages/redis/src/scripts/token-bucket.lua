-- tollgate tokenBucket: one decision, atomically (SEMANTICS.md, tokenBucket). Tokens are kept
-- in integer units of 1/I token, so refill is exact: R units per millisecond, no float drift.
--
-- KEYS[1]  state key, a string "<units>:<ts>" (units of 1/I token, ts = integer epoch ms of the
--          last decision); absent = a full bucket.
-- ARGV[1]  capacity C, tokens (positive integer)
-- ARGV[2]  refillRate R, tokens added per refillIntervalMs (positive integer)
-- ARGV[3]  refillIntervalMs I, milliseconds (positive integer)
-- ARGV[4]  cost of this request, in tokens (positive integer, <= C)
-- ARGV[5]  optional: now, integer epoch milliseconds of an injected test clock;
--          absent = the server's TIME (sec * 1000 + floor(usec / 1000)).
--
-- Reply (integers only, each below 2^53):
--   admitted, when (resetMs + 1) * (C + 1) < 2^53: one integer resetMs * (C + 1) + remaining;
--   otherwise the array {allowed (1|0), remaining, resetMs, retryAfterMs}.
--
-- Cost: GET, plus SET ... PX when admitted (DEL instead if the bucket were full again; the TTL
-- moves with every admission, so it is set every time). A denial writes nothing: the stored
-- (units, ts) refills to exactly the same state later, and the key keeps its TTL, the moment
-- the bucket is full again.

local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local interval = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local now = ARGV[5]
if now then
  now = tonumber(now)
else
  local t = redis.call('TIME')
  now = t[1] * 1000 + math.floor(t[2] / 1000)
end

local full = capacity * interval
local units = full

local state = redis.call('GET', KEYS[1])
if state then
  local sep = string.find(state, ':', 1, true)
  units = tonumber(string.sub(state, 1, sep - 1))
  local elapsed = now - tonumber(string.sub(state, sep + 1))
  if elapsed > 0 then
    -- Compared before multiplying out so a long idle time cannot overflow 2^53.
    if elapsed >= math.ceil((full - units) / rate) then
      units = full
    else
      units = units + elapsed * rate
      if units > full then units = full end
    end
  end
end

local need = cost * interval
if units >= need then
  units = units - need
  local resetMs = math.ceil((full - units) / rate)
  if resetMs > 0 then
    redis.call('SET', KEYS[1], string.format('%d:%d', units, now), 'PX', resetMs)
  else
    redis.call('DEL', KEYS[1])
  end
  local remaining = math.floor(units / interval)
  local m = capacity + 1
  if (resetMs + 1) * m < 9007199254740992 then
    return resetMs * m + remaining
  end
  return { 1, remaining, resetMs, 0 }
end

return { 0, math.floor(units / interval), math.ceil((full - units) / rate),
  math.ceil((need - units) / rate) }
