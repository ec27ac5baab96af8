-- tollgate fixedWindow: one decision, atomically (SEMANTICS.md, fixedWindow).
--
-- KEYS[1]  state key, a string "<window index>:<count>"; absent = untouched.
-- ARGV[1]  limit L, cost units per window (positive integer)
-- ARGV[2]  windowMs W, window length in milliseconds (positive integer)
-- ARGV[3]  cost of this request, in cost units (positive integer, <= L)
-- ARGV[4]  optional: now, integer epoch milliseconds of an injected test clock;
--          absent = the server's TIME (sec * 1000 + floor(usec / 1000)).
--
-- Returns the integer array {allowed (1|0), limit, remaining, resetMs, retryAfterMs}.
-- Every value is an integer below 2^53, so Redis's number-to-integer reply loses nothing.
--
-- Cost: GET, plus SET ... PX when admitted. A denial writes nothing, so it never extends the TTL.
-- The key expires at the window's end: its state stops mattering then.

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
local untilEnd = (index + 1) * window - now
local count = 0

local state = redis.call('GET', KEYS[1])
if state then
  local sep = string.find(state, ':', 1, true)
  -- A state from another window counts as 0 (its key may outlive it under an injected clock).
  if tonumber(string.sub(state, 1, sep - 1)) == index then
    count = tonumber(string.sub(state, sep + 1))
  end
end

if count + cost <= limit then
  count = count + cost
  redis.call('SET', KEYS[1], string.format('%d:%d', index, count), 'PX', untilEnd)
  return { 1, limit, limit - count, untilEnd, 0 }
end

local resetMs = 0
if count > 0 then resetMs = untilEnd end
return { 0, limit, limit - count, resetMs, untilEnd }
