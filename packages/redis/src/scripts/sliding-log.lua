-- tollgate slidingLog: exact log of admitted requests, one decision, atomically
-- (SEMANTICS.md, slidingLog). Every decision costs the same few list operations however long
-- the log is.
--
-- KEYS[1]  state key, a list of "<t>:<S>" strings, oldest first: t = integer epoch ms of an
--          admission, S = the running total of admitted cost up to and including it (requests
--          admitted at the same t share one element). Element 0 is the base: the newest entry
--          that has left the window ("0:0" for a new log), so the log's live entries are
--          elements 1..n and used = S(tail) - S(base). Absent = empty log.
-- ARGV[1]  limit L, cost units per any span of W milliseconds (positive integer)
-- ARGV[2]  windowMs W, window length in milliseconds (positive integer)
-- ARGV[3]  cost of this request, in cost units (positive integer, <= L)
-- ARGV[4]  optional: now, integer epoch milliseconds of an injected test clock;
--          absent = the server's TIME (sec * 1000 + floor(usec / 1000)).
--
-- Reply (integers only, each below 2^53):
--   admitted, when (W + 1) * (L + 1) < 2^53: one integer W * (L + 1) + remaining (resetMs = W);
--   otherwise the array {allowed (1|0), remaining, resetMs, retryAfterMs}.
--
-- Cost: LRANGE 0 2 (base and the two oldest entries) and LINDEX -1 (the newest; skipped when
-- the list has at most 3 elements). Entries that left the window are dropped with one LTRIM:
-- each entry is read and dropped once, so this is O(1) amortized. An admission appends with
-- RPUSH (or LSET -1 when the newest entry has the same t) and sets PEXPIRE W: the key expires at
-- t_newest + W. A denial walks the live entries oldest first, in LRANGE chunks, until enough
-- cost has left: at most `cost` entries, since every entry holds at least 1. A denial never
-- touches the TTL; it may drop entries that left the window (an equivalent state).

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

local key = KEYS[1]
local horizon = now - window
local find, sub = string.find, string.sub

local function admitted(remaining)
  local m = limit + 1
  if (window + 1) * m < 9007199254740992 then return window * m + remaining end
  return { 1, remaining, window, 0 }
end

local chunk = redis.call('LRANGE', key, 0, 2)
local n = #chunk
local tail
if n > 0 then
  tail = chunk[n]
  if n == 3 then tail = redis.call('LINDEX', key, -1) end
end
local sep, tailT, tailS
if tail then
  sep = find(tail, ':', 1, true)
  tailT = tonumber(sub(tail, 1, sep - 1))
end

if n < 2 or tailT <= horizon then
  -- Empty, or every entry has left the window: start a new log (its running total from 0).
  if n > 0 then redis.call('DEL', key) end
  redis.call('RPUSH', key, '0:0', string.format('%d:%d', now, cost))
  redis.call('PEXPIRE', key, window)
  return admitted(limit - cost)
end
tailS = tonumber(sub(tail, sep + 1))

-- The base, then drop entries with t <= now - W, oldest first. The tail is live, so the scan
-- stops at an element of the list.
local base = chunk[1]
local baseS = tonumber(sub(base, find(base, ':', 1, true) + 1))
local offset, pos, size = 0, 2, 3 -- chunk[pos] is list element offset + pos - 1
local dropped = 0
local entry = chunk[2]
sep = find(entry, ':', 1, true)
local t = tonumber(sub(entry, 1, sep - 1))
while t <= horizon do
  baseS = tonumber(sub(entry, sep + 1))
  dropped = dropped + 1
  pos = pos + 1
  if pos > size then
    offset = offset + size
    size = size * 4
    chunk = redis.call('LRANGE', key, offset, offset + size - 1)
    pos = 1
  end
  entry = chunk[pos]
  sep = find(entry, ':', 1, true)
  t = tonumber(sub(entry, 1, sep - 1))
end

local used = tailS - baseS
if used + cost <= limit then
  if dropped > 0 then redis.call('LTRIM', key, dropped, -1) end
  if tailT == now then
    redis.call('LSET', key, -1, string.format('%d:%d', now, tailS + cost))
  else
    redis.call('RPUSH', key, string.format('%d:%d', now, tailS + cost))
  end
  redis.call('PEXPIRE', key, window)
  return admitted(limit - used - cost)
end

-- Denied: the first live entry (oldest first) whose leaving makes room gives the wait, i.e.
-- the first with S >= tailS + cost - L. `entry` (at t) is the oldest live entry.
local need = tailS + cost - limit
while tonumber(sub(entry, sep + 1)) < need do
  pos = pos + 1
  if pos > size then
    offset = offset + size
    size = size * 4
    chunk = redis.call('LRANGE', key, offset, offset + size - 1)
    pos = 1
  end
  entry = chunk[pos]
  sep = find(entry, ':', 1, true)
end
t = tonumber(sub(entry, 1, sep - 1))
if dropped > 0 then redis.call('LTRIM', key, dropped, -1) end
return { 0, limit - used, tailT + window - now, t + window - now }
