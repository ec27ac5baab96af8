-- fixedWindow (docs/semantics.md, fixedWindow). State: a hash with one field, "<window index>" =
-- count (cost units admitted in that window; index = floor(now / W)); absent = untouched.
-- Params: limit L (cost units per window), windowMs W (ms). The key expires at the window's end.
-- Invariant: the hash holds at most one field, so a state from any other window (earlier, or
-- later under a clock that stepped back) reads as 0: HGET of this window's field finds nothing.
local fixedWindow = { nparams = 2 }

function fixedWindow.params(a, i)
  return { limit = tonumber(a[i]), window = tonumber(a[i + 1]) }
end

-- Redis turns a number argument of redis.call into a string with sprintf, which costs about as
-- much as the command itself. A batch decides on one instant, so the window's field name and
-- TTL are formatted once per (now, W) here, and a cost goes on as the ARGV string it came in as.
local fwNow, fwWindow, fwIndex, fwField, fwUntilEnd, fwTtl = nil, nil, 0, '', 0, ''
local function fixedWindowSlot(now, W)
  if now ~= fwNow or W ~= fwWindow then
    local elapsed = now % W
    fwIndex = (now - elapsed) / W
    fwField = format('%d', fwIndex)
    fwUntilEnd = W - elapsed
    fwTtl = format('%d', fwUntilEnd)
    fwNow, fwWindow = now, W
  end
end

function fixedWindow.read(key, p, now)
  fixedWindowSlot(now, p.window)
  return { index = fwIndex, field = fwField, untilEnd = fwUntilEnd, ttl = fwTtl,
    count = tonumber(redis.call('HGET', key, fwField)) or 0 }
end

function fixedWindow.idle(s, p)
  local remaining = p.limit - s.count
  if remaining < 0 then remaining = 0 end
  if s.count > 0 then return remaining, s.untilEnd end
  return remaining, 0
end

function fixedWindow.answer(s, p, now, cost)
  if s.count + cost <= p.limit then return true, p.limit - s.count - cost, s.untilEnd, 0 end
  local remaining, resetMs = fixedWindow.idle(s, p)
  return false, remaining, resetMs, s.untilEnd
end

--- @include "fixed-window-expire.lua"

function fixedWindow.write(key, s, p, now, cost)
  local count = redis.call('HINCRBY', key, s.field, cost)
  fixedWindowExpire(key, s.field, count, cost, cost, s.ttl)
end

-- A decision without a read first: HINCRBY reads and counts in one call; a denial takes the
-- cost back with a second HINCRBY (the field existed: count > 0 before, as cost <= L).
function fixedWindow.decide(key, p, now, cost, costArg)
  fixedWindowSlot(now, p.window)
  local untilEnd = fwUntilEnd
  local count = redis.call('HINCRBY', key, fwField, costArg)
  if count <= p.limit then
    fixedWindowExpire(key, fwField, count, cost, costArg, fwTtl)
    return true, p.limit - count, untilEnd, 0
  end
  redis.call('HINCRBY', key, fwField, '-' .. costArg)
  local remaining = p.limit - count + cost
  if remaining < 0 then remaining = 0 end
  return false, remaining, untilEnd, untilEnd
end

-- count = max(0, count - cost) when the state is of this window; a count of 0 is untouched.
function fixedWindow.refund(key, p, now, cost)
  local s = fixedWindow.read(key, p, now)
  if s.count == 0 then return end
  if s.count <= cost then
    redis.call('DEL', key)
  else
    redis.call('HINCRBY', key, s.field, -cost)
  end
end
