-- tollgate slidingWindow: two-window weighted counter, one decision, atomically
-- (SEMANTICS.md, slidingWindow). All arithmetic is on integers scaled by W.
--
-- KEYS[1]  state key, a string "<window index>:<curr>:<prev>"; absent = untouched.
-- ARGV[1]  limit L, cost units per sliding window (positive integer)
-- ARGV[2]  windowMs W, window length in milliseconds (positive integer)
-- ARGV[3]  cost of this request, in cost units (positive integer, <= L)
-- ARGV[4]  optional: now, integer epoch milliseconds of an injected test clock;
--          absent = the server's TIME (sec * 1000 + floor(usec / 1000)).
--
-- Reply (integers only, each below 2^53):
--   admitted, when (resetMs + 1) * (L + 1) < 2^53: one integer resetMs * (L + 1) + remaining;
--   otherwise the array {allowed (1|0), remaining, resetMs, retryAfterMs}.
--
-- Cost: GET, plus SET when admitted: with PX = start + 2W - now on the first admission of a
-- window, with KEEPTTL after that (the TTL already points at start + 2W, and a SET that keeps it
-- is much cheaper for Redis than one that sets it again). A denial writes nothing.

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
local start = now - elapsed
local index = start / window
local curr, prev = 0, 0
local same = false

local state = redis.call('GET', KEYS[1])
if state then
  local a = string.find(state, ':', 1, true)
  local b = string.find(state, ':', a + 1, true)
  local i = tonumber(string.sub(state, 1, a - 1))
  if i == index then
    curr = tonumber(string.sub(state, a + 1, b - 1))
    prev = tonumber(string.sub(state, b + 1))
    same = true
  elseif i == index - 1 then
    prev = tonumber(string.sub(state, a + 1, b - 1))
  end
end

local capacity = limit * window
local used = prev * (window - elapsed) + curr * window

if used + cost * window <= capacity then
  curr = curr + cost
  used = used + cost * window
  local untilGone = start + 2 * window - now
  if same and not ARGV[4] then
    -- On the server's clock the TTL set by this window's first admission already ends at
    -- start + 2W; an injected clock is not the one Redis expires on, so it restates it.
    redis.call('SET', KEYS[1], string.format('%d:%d:%d', index, curr, prev), 'KEEPTTL')
  else
    redis.call('SET', KEYS[1], string.format('%d:%d:%d', index, curr, prev), 'PX', untilGone)
  end
  local remaining = math.floor((capacity - used) / window)
  local m = limit + 1
  if (untilGone + 1) * m < 9007199254740992 then
    return untilGone * m + remaining
  end
  return { 1, remaining, untilGone, 0 }
end

local remaining = 0
if capacity > used then remaining = math.floor((capacity - used) / window) end
local resetMs = 0
if curr > 0 then
  resetMs = start + 2 * window - now
elseif prev > 0 then
  resetMs = start + window - now
end

local retryAfterMs
local free = limit - curr - cost
if free >= 0 and prev > 0 then
  -- The decaying previous window makes room within this window.
  retryAfterMs = window - math.floor(free * window / prev) - elapsed
else
  -- Room comes only in the next window, where today's curr becomes prev.
  retryAfterMs = start + window - now
  if curr > 0 then
    local wait = window - math.floor((limit - cost) * window / curr)
    if wait > 0 then retryAfterMs = retryAfterMs + wait end
  end
end
return { 0, remaining, resetMs, retryAfterMs }
