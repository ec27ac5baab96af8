-- tollgate slidingLog: exact log of admitted requests, one decision, atomically
-- (SEMANTICS.md, slidingLog). A decision costs the same few list operations however long the
-- log is (amortized: every entry is appended once and dropped once).
--
-- KEYS[1]  state key, a list of entries "<t>:<S>:<base>:<oldest>", oldest first, absent = empty
--          log. t = integer epoch ms of an admission (requests admitted at the same t share one
--          entry); S = running total of admitted cost up to and including this entry, counted
--          from the start of the log. Only the newest entry's <base> and <oldest> are current:
--          base = S of the newest entry that has left the window (0 if none), oldest = t of the
--          oldest entry still in the list. So used = S(newest) - base, read from one element.
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
-- Cost: LINDEX -1 (the newest entry). When its <oldest> has left the window, LRANGE from the
-- head in growing chunks (4, 16, 64, ...) finds the entries that left and one LTRIM drops them.
-- An admission appends with RPUSH (LSET -1 when the newest entry has the same t) and sets
-- PEXPIRE W: the key expires at t_newest + W. A denial never touches the TTL; it walks the live
-- entries oldest first with LRANGE chunks until enough cost has left (at most `cost` entries,
-- as every entry holds at least 1), and if entries left the window it drops them and rewrites
-- the newest entry's <base> and <oldest> (an equivalent state).

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
local find, sub, format = string.find, string.sub, string.format
-- (PEXPIRE takes ARGV[2] as sent: no number formatting in Lua.)

local function admitted(remaining)
  local m = limit + 1
  if (window + 1) * m < 9007199254740992 then return window * m + remaining end
  return { 1, remaining, window, 0 }
end

local tail = redis.call('LINDEX', key, -1)
local tailT, tailS, baseS, oldestT
if tail then
  local a = find(tail, ':', 1, true)
  tailT = tonumber(sub(tail, 1, a - 1))
end
if not tail or tailT <= horizon then
  -- Empty, or every entry has left the window: start a new log (its running total from 0).
  if tail then redis.call('DEL', key) end
  redis.call('RPUSH', key, format('%d:%d:0:%d', now, cost, now))
  redis.call('PEXPIRE', key, ARGV[2])
  return admitted(limit - cost)
end
do
  local a = find(tail, ':', 1, true)
  local b = find(tail, ':', a + 1, true)
  local c = find(tail, ':', b + 1, true)
  tailS = tonumber(sub(tail, a + 1, b - 1))
  baseS = tonumber(sub(tail, b + 1, c - 1))
  oldestT = tonumber(sub(tail, c + 1))
end

-- Entries with t <= now - W leave, oldest first: read from the head in growing chunks. The
-- tail is live, so the scan stops inside the list.
local dropped = 0
local chunk, offset, pos, size, entry, sep
if oldestT <= horizon then
  offset, size = 0, 4
  chunk = redis.call('LRANGE', key, 0, size - 1)
  pos = 1
  entry = chunk[1]
  sep = find(entry, ':', 1, true)
  while tonumber(sub(entry, 1, sep - 1)) <= horizon do
    baseS = tonumber(sub(entry, sep + 1, find(entry, ':', sep + 1, true) - 1))
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
  end
  oldestT = tonumber(sub(entry, 1, sep - 1))
  redis.call('LTRIM', key, dropped, -1)
end

local used = tailS - baseS
if used + cost <= limit then
  if tailT == now then
    redis.call('LSET', key, -1, format('%d:%d:%d:%d', now, tailS + cost, baseS, oldestT))
  else
    redis.call('RPUSH', key, format('%d:%d:%d:%d', now, tailS + cost, baseS, oldestT))
  end
  redis.call('PEXPIRE', key, ARGV[2])
  return admitted(limit - used - cost)
end

-- Denied. If entries were dropped, the newest entry must carry the new base and oldest t.
if dropped > 0 then
  redis.call('LSET', key, -1, format('%d:%d:%d:%d', tailT, tailS, baseS, oldestT))
end
-- The first live entry (oldest first) with S >= tailS + cost - L: its leaving makes room.
local need = tailS + cost - limit
offset, size, pos = 0, 4, 1
chunk = redis.call('LRANGE', key, 0, size - 1)
entry = chunk[1]
sep = find(entry, ':', 1, true)
while tonumber(sub(entry, sep + 1, find(entry, ':', sep + 1, true) - 1)) < need do
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
return { 0, limit - used, tailT + window - now, tonumber(sub(entry, 1, sep - 1)) + window - now }
