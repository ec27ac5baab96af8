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
-- Returns the integer array {allowed (1|0), limit, remaining, resetMs, retryAfterMs}.
-- Every value is an integer below 2^53, so Redis's number-to-integer reply loses nothing.
--
-- Cost: GET, plus SET ... PX when admitted. A denial writes nothing, so it never extends the TTL.
-- The key expires at start + 2W: after that neither window weighs anything.

local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local now
if ARGV[4] then
  now = tonumber(ARGV[4])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local index = math.floor(now / window)
local start = index * window
local elapsed = now - start
local curr, prev = 0, 0

local state = redis.call('GET', KEYS[1])
if state then
  local _, _, i, c, p = string.find(state, '^(%d+):(%d+):(%d+)$')
  i = tonumber(i)
  if i == index then
    curr = tonumber(c)
    prev = tonumber(p)
  elseif i == index - 1 then
    prev = tonumber(c)
  end
end

local capacity = limit * window
local used = prev * (window - elapsed) + curr * window

if used + cost * window <= capacity then
  curr = curr + cost
  used = used + cost * window
  local untilGone = start + 2 * window - now
  redis.call('SET', KEYS[1], string.format('%d:%d:%d', index, curr, prev), 'PX', untilGone)
  return { 1, limit, math.floor((capacity - used) / window), untilGone, 0 }
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
return { 0, limit, remaining, resetMs, retryAfterMs }
